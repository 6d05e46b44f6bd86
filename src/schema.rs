//! Column names and value sets of the contract (`shared/spec/contract.md` §1, §2),
//! plus the names of the derived columns the pipeline adds. Write
//! `col(schema::ACTOR)`, never the literal.

pub const TS: &str = "ts";
pub const ACTOR: &str = "actor";
pub const ACTION: &str = "action";
pub const RECORDS: &str = "records";
pub const CUSTOMER_ID: &str = "customer_id";
pub const CUSTOMER_SEGMENT: &str = "customer_segment";
pub const RESOURCE: &str = "resource";
pub const FIELDS: &str = "fields";
pub const CLIENT: &str = "client";
pub const SOURCE_IP: &str = "source_ip";
pub const TICKET_ID: &str = "ticket_id";
pub const ACTOR_KIND: &str = "actor_kind";
pub const TEAM: &str = "team";
pub const STATUS: &str = "status";
pub const EVENT_ID: &str = "event_id";

/// Every column of the access-event contract, in contract order.
pub const EVENT_COLUMNS: [&str; 15] = [
    TS,
    ACTOR,
    ACTION,
    RECORDS,
    CUSTOMER_ID,
    CUSTOMER_SEGMENT,
    RESOURCE,
    FIELDS,
    CLIENT,
    SOURCE_IP,
    TICKET_ID,
    ACTOR_KIND,
    TEAM,
    STATUS,
    EVENT_ID,
];
/// Optional free-text columns: kept as given, empty meaning absent.
pub const EVENT_TEXT_COLUMNS: [&str; 9] = [
    CUSTOMER_ID,
    CUSTOMER_SEGMENT,
    RESOURCE,
    FIELDS,
    CLIENT,
    SOURCE_IP,
    TICKET_ID,
    TEAM,
    EVENT_ID,
];
/// Columns an access-event file must have.
pub const EVENT_REQUIRED: [&str; 3] = [TS, ACTOR, ACTION];

pub const ACTIONS: [&str; 6] = ["view", "search", "export", "update", "delete", "login"];
pub const ACTOR_KINDS: [&str; 4] = ["employee", "contractor", "service", "vendor"];
pub const STATUSES: [&str; 3] = ["ok", "denied", "error"];
/// What a row without an `actor_kind` or a `status` has (contract §1).
pub const ACTOR_KIND_DEFAULT: &str = "employee";
pub const STATUS_DEFAULT: &str = "ok";

/// Ticket-assignment columns (contract §2).
pub const OPENED_AT: &str = "opened_at";
pub const CLOSED_AT: &str = "closed_at";
pub const ASSIGNEE: &str = "assignee";
pub const TICKET_COLUMNS: [&str; 5] = [TICKET_ID, CUSTOMER_ID, ASSIGNEE, OPENED_AT, CLOSED_AT];
pub const TICKET_REQUIRED: [&str; 4] = [TICKET_ID, CUSTOMER_ID, ASSIGNEE, OPENED_AT];

// Derived columns added by ingest and features.
/// Where a row came from: the 1-based line (CSV, JSON Lines) or row (Parquet).
pub const SOURCE_LINE: &str = "_line";
/// The local calendar day of `ts` (UTC unless `--timezone`).
pub const DAY: &str = "day";
/// The local hour of `ts`, 0-23.
pub const HOUR: &str = "hour";
/// The UTC day of `ts`, used to partition duplicate detection.
pub const UTC_DAY: &str = "_utc_day";
/// A 64-bit hash identifying an event for de-duplication.
pub const KEY: &str = "_key";
