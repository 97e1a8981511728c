{#
    A2 LanguageID → A3 content language nb/nn/en per correspondence (seed a2_language_map;
    a3-correspondence §1.5.1). A null LanguageID counts as Default (0). Sami (1083) and Default
    become nb (rule in the overview); an id outside the map is unsupported and quarantined.
#}
with

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

language_map as (

    select * from {{ ref('a2_language_map') }}

),

final as (

    select
        correspondences.a2_correspondence_id,
        correspondences.language_id as a2_language_id,
        language_map.a3_language as language,
        coalesce(language_map.language_rule, 'unsupported') as language_rule,
        language_map.a3_language is not null as is_supported
    from correspondences
    left join language_map
        on coalesce(correspondences.language_id, 0) = language_map.a2_language_id

)

select * from final
