"""Loading Altinn 2 into the warehouse (issue #3): the A2 source contract (`contract`), the
table map (`table_map`), source access (`source`, `attachments`) and the dlt pipeline into
`a2_raw` (`pipeline`, `flytt load`)."""
