/** A table's pinned record format (`tables[].format`); absent, each record's bytes tell. */
export type Format = "json" | "avro";
