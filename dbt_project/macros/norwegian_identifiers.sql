{#
    SQL boolean expressions that validate Norwegian identifiers by their mod-11 check digits, as
    Altinn 3 and Dialogporten do for party URNs (dialogporten.md §1.2): a number that fails is
    refused downstream, so the mapping quarantines it instead.
#}

{% macro mod11_check_digit(column, weights) -%}
    (11 - (
        {%- for weight in weights %}
        substr({{ column }}, {{ loop.index }}, 1)::int * {{ weight }}
        {%- if not loop.last %} + {% endif %}
        {%- endfor %}
    ) % 11) % 11
{%- endmacro %}

{% macro is_valid_org_number(column) -%}
    {#- Organisation number: 9 digits; check digit with weights 3,2,7,6,5,4,3,2 (Brønnøysund). -#}
    coalesce(case
        when {{ column }} ~ '^[0-9]{9}$'
            then {{ mod11_check_digit(column, [3, 2, 7, 6, 5, 4, 3, 2]) }}
            = substr({{ column }}, 9, 1)::int
        else false
    end, false)
{%- endmacro %}

{% macro is_valid_national_identity_number(column) -%}
    {#- Fødselsnummer / D-number: 11 digits; two check digits (Skatteetaten's algorithm). -#}
    coalesce(case
        when {{ column }} ~ '^[0-9]{11}$'
            then {{ mod11_check_digit(column, [3, 7, 6, 1, 8, 9, 4, 5, 2]) }}
            = substr({{ column }}, 10, 1)::int
            and {{ mod11_check_digit(column, [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) }}
            = substr({{ column }}, 11, 1)::int
        else false
    end, false)
{%- endmacro %}
