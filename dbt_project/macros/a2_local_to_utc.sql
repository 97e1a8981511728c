{#
    A2 (SQL Server datetime2) stores Europe/Oslo wall-clock time without an offset.
    Rule (overview doc block `a2_local_time_rule`): read the wall clock with +02:00 (CEST) when
    that reading round-trips to the same Oslo wall-clock time, else with +01:00 (CET). So the
    repeated autumn hour (02:00-02:59 on the last Sunday of October) is read as its FIRST
    occurrence (CEST), and a wall-clock time inside the missing spring hour (02:00-02:59 on the
    last Sunday of March) is read with the offset in force before the gap (CET: 02:30 -> 01:30
    UTC). Valid from 1980, since when Norway has used only +01/+02; A2 data starts in 2006.
    Works whether the raw column is `timestamp` or `timestamptz` (a loader that stores the naive
    wall clock as if it were UTC): see `a2_wall_clock`.
    SQL Server sentinels become NULL (`a2_is_sentinel_time`): a wall clock before 1754-01-01
    (datetime minimum 1753-01-01, datetime2 minimum 0001-01-01) or on/after 9999-12-31 (the
    maximum of both types). Converting year 1 would give a BC time that Python's datetime cannot
    hold (psycopg2 raises "year -1 is out of range"; psycopg/psycopg2#1726, dlt-hub/dlt#3184).
    Optional times keep the NULL; required ones are quarantined as `out_of_range_timestamp`.
#}
{% macro a2_local_to_utc(column) -%}
    {%- set wall = a2_wall_clock(column) -%}
    case
        when {{ column }} is null then null
        when {{ a2_is_sentinel_time(column) }} then null
        when ((({{ wall }}) - interval '2 hours') at time zone 'UTC' at time zone 'Europe/Oslo')
            = ({{ wall }})
            then (({{ wall }}) - interval '2 hours') at time zone 'UTC'
        else (({{ wall }}) - interval '1 hour') at time zone 'UTC'
    end
{%- endmacro %}

{#
    The naive wall-clock `timestamp` of a raw A2 time column: as is for `timestamp`; for a
    `timestamptz` column (naive value stored as UTC) the UTC reading, independent of the session
    time zone.
#}
{% macro a2_wall_clock(column) -%}
    case
        when pg_typeof({{ column }}) = 'timestamp with time zone'::regtype
            then {{ column }}::timestamptz at time zone 'UTC'
        else {{ column }}::timestamp
    end
{%- endmacro %}

{#
    True when a raw, non-null A2 time is a SQL Server sentinel / out-of-range value that
    `a2_local_to_utc` turns into NULL: wall clock before 1754-01-01 or on/after 9999-12-31
    (SQL Server `datetime` and `datetime2` range, learn.microsoft.com "datetime (Transact-SQL)",
    "datetime2 (Transact-SQL)"). NULL input gives false.
#}
{% macro a2_is_sentinel_time(column) -%}
    coalesce(
        ({{ a2_wall_clock(column) }}) < timestamp '1754-01-01 00:00:00'
        or ({{ a2_wall_clock(column) }}) >= timestamp '9999-12-31 00:00:00',
        false
    )
{%- endmacro %}
