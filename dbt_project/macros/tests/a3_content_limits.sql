{#
    Generic test on a contents model: fails on rows that the A3 migration API model would
    refuse (a3-correspondence §1.5; altinn-correspondence PR #2012): message_title blank or
    over 255 characters, message_summary null or over 255, message_body blank or over 30 000.
    Whitespace-only counts as empty, as .NET's [Required] does.
#}
{% test a3_content_limits(model) %}
    select *
    from {{ model }}
    where
        coalesce(trim(message_title), '') = ''
        or length(message_title) > 255
        or message_summary is null
        or length(message_summary) > 255
        or coalesce(trim(message_body), '') = ''
        or length(message_body) > 30000
{% endtest %}
