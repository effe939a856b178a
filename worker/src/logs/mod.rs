//! Request logs, from the request to the dashboard: each record is printed
//! as a JSON line (Workers Logs) and sent to a queue (`sink`); the queue's
//! consumer writes batches to D1 (`consumer`); a daily cron deletes old
//! records (`retention`); the admin API reads them back (`handlers/logs`).
//! `d1` runs core's SQL and hands rows back as JSON, untouched.

pub mod audit;
pub mod consumer;
pub mod d1;
pub mod retention;
pub mod sink;
