//! Table (sled tree) names and key layouts. One tree per table; the index of a table in
//! [`ALL`] is its position in the transaction view.
//!
//! Key layouts (H = keyed hash under the table's derived key, H16 = its first 16 bytes):
//! - `meta`: fixed ASCII names (`schema_version`, `cipher`, `audit_head`), not identities.
//! - `ledger`: H(user id).
//! - `conversations`: H16_round(survey, round) ‖ H(user id, survey, round) — the prefix lets
//!   a round's close find its drafts without knowing who they belong to.
//! - `answers`: H16_round(survey, round) ‖ 16 random bytes — random so insert order (which
//!   follows finishing order) is lost in the key order.
//! - `rounds`, `aggregates`: H_round(survey, round).
//! - `survey_secrets`: H(survey id).
//! - `outbox`: H16_outbox(room id) ‖ queue position (u64 big-endian): one room's messages
//!   are one key range, in queue order, so a room's sender reads only its own (schema 4).
//! - `audit`: sequence number, u64 big-endian.
//! - `bot_state`: H(name).

use super::cipher::Crypt;

/// A table: its tree name and its index in the transaction view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) idx: usize,
}

pub(crate) const META: Table = Table {
    name: "meta",
    idx: 0,
};
pub(crate) const LEDGER: Table = Table {
    name: "ledger",
    idx: 1,
};
pub(crate) const CONVERSATIONS: Table = Table {
    name: "conversations",
    idx: 2,
};
pub(crate) const ANSWERS: Table = Table {
    name: "answers",
    idx: 3,
};
pub(crate) const ROUNDS: Table = Table {
    name: "rounds",
    idx: 4,
};
pub(crate) const OUTBOX: Table = Table {
    name: "outbox",
    idx: 5,
};
pub(crate) const AUDIT: Table = Table {
    name: "audit",
    idx: 6,
};
pub(crate) const AGGREGATES: Table = Table {
    name: "aggregates",
    idx: 7,
};
pub(crate) const SURVEY_SECRETS: Table = Table {
    name: "survey_secrets",
    idx: 8,
};
pub(crate) const BOT_STATE: Table = Table {
    name: "bot_state",
    idx: 9,
};

/// Every table, in index order.
pub(crate) const ALL: [Table; 10] = [
    META,
    LEDGER,
    CONVERSATIONS,
    ANSWERS,
    ROUNDS,
    OUTBOX,
    AUDIT,
    AGGREGATES,
    SURVEY_SECRETS,
    BOT_STATE,
];

pub(crate) const META_SCHEMA: &[u8] = b"schema_version";
pub(crate) const META_CIPHER: &[u8] = b"cipher";
pub(crate) const META_AUDIT_HEAD: &[u8] = b"audit_head";

/// Hash-derivation domain for round keys (shared by rounds, aggregates and the prefixes).
const ROUND_DOMAIN: &str = "round";

pub(crate) fn ledger_key(c: &Crypt, user: &str) -> [u8; 32] {
    c.hash(LEDGER.name, &[user.as_bytes()])
}

pub(crate) fn round_key(c: &Crypt, survey: &str, round: u32) -> [u8; 32] {
    c.hash(ROUND_DOMAIN, &[survey.as_bytes(), &round.to_be_bytes()])
}

pub(crate) fn round_prefix(c: &Crypt, survey: &str, round: u32) -> [u8; 16] {
    let k = round_key(c, survey, round);
    let mut p = [0u8; 16];
    p.copy_from_slice(&k[..16]);
    p
}

pub(crate) fn conversation_key(c: &Crypt, user: &str, survey: &str, round: u32) -> Vec<u8> {
    let mut k = round_prefix(c, survey, round).to_vec();
    k.extend_from_slice(&c.hash(
        CONVERSATIONS.name,
        &[user.as_bytes(), survey.as_bytes(), &round.to_be_bytes()],
    ));
    k
}

pub(crate) fn answer_key(c: &Crypt, survey: &str, round: u32) -> Vec<u8> {
    let mut k = round_prefix(c, survey, round).to_vec();
    k.extend_from_slice(&rand::random::<[u8; 16]>());
    k
}

pub(crate) fn survey_key(c: &Crypt, survey: &str) -> [u8; 32] {
    c.hash(SURVEY_SECRETS.name, &[survey.as_bytes()])
}

pub(crate) fn bot_state_key(c: &Crypt, name: &str) -> [u8; 32] {
    c.hash(BOT_STATE.name, &[name.as_bytes()])
}

/// Length of an outbox key: room prefix and queue position.
pub(crate) const OUTBOX_KEY_LEN: usize = 24;

pub(crate) fn outbox_prefix(c: &Crypt, room: &str) -> [u8; 16] {
    let h = c.hash(OUTBOX.name, &[room.as_bytes()]);
    let mut p = [0u8; 16];
    p.copy_from_slice(&h[..16]);
    p
}

pub(crate) fn outbox_key(c: &Crypt, room: &str, id: u64) -> [u8; OUTBOX_KEY_LEN] {
    let mut k = [0u8; OUTBOX_KEY_LEN];
    k[..16].copy_from_slice(&outbox_prefix(c, room));
    k[16..].copy_from_slice(&id.to_be_bytes());
    k
}
