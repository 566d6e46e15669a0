// Repair and inspection helpers used by the CLI (claim, ack by hand, ...). Owned by the CLI work.
export {};
