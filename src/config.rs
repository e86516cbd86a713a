//! The one configuration struct: loaded from a TOML file, checked, secrets read.
//!
//! Loading happens in two steps. Serde reads the file into `raw` structs that mirror it
//! (unknown keys refused, positions kept with `toml::Spanned`); `check` then turns them into a
//! typed [`Config`] and collects every problem it finds, each naming the file, the key and,
//! where known, line and column. Relative paths are resolved against the config file's folder,
//! so the bot behaves the same whichever directory it is started from.

use std::fmt;
use std::path::{Path, PathBuf};

use matrix_sdk::ruma::{OwnedRoomOrAliasId, OwnedUserId};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::lang::Lang;

/// Environment variable naming the config file when `--config` is not given.
pub const ENV_CONFIG: &str = "PULSEBOT_CONFIG";
/// Environment variable that overrides `matrix.password_file`.
pub const ENV_PASSWORD: &str = "PULSEBOT_PASSWORD";
/// Environment variable that overrides `matrix.access_token_file`.
pub const ENV_ACCESS_TOKEN: &str = "PULSEBOT_ACCESS_TOKEN";
/// Environment variable that overrides `store.passphrase_file`.
pub const ENV_PASSPHRASE: &str = "PULSEBOT_STORE_PASSPHRASE";
/// The placeholder passphrase of `config.example.toml`, refused so nobody runs with it.
const EXAMPLE_SECRET: &str = "change-me";

/// A secret read from a file or the environment; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The checked configuration of one bot.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub source: PathBuf,
    /// `[matrix]`: the bot's account.
    pub matrix: MatrixConfig,
    /// `[bot]`: who administers it and where it lives.
    pub bot: BotConfig,
    /// `[store]`: the data directory.
    pub store: StoreConfig,
    /// `[surveys]`: where the questionnaires are.
    pub surveys: SurveysConfig,
    /// `[privacy]`: minimum group size and retention.
    pub privacy: PrivacyConfig,
    /// `[sync]`: tuning of the sync loop.
    pub sync: SyncConfig,
    /// `[metrics]`: the health and metrics endpoint.
    pub metrics: MetricsConfig,
    /// `[notice]`: the data-protection notice sent at first contact.
    pub notice: crate::conversation::Notice,
    /// Whether the notice names the responsible office and the contact (`[notice]
    /// controller` and `contact`, or a text of one's own without those placeholders).
    pub notice_configured: bool,
    /// What is allowed but unwise (a secret file others may read), each with what to do;
    /// `validate` prints them, `run` logs them.
    pub warnings: Vec<String>,
}

/// The built-in German data-protection notice, a template: `{controller}`, `{contact}`,
/// `{min_group_size}`, `{retention_days}` and `{chat_history}` are filled in from the config.
pub const DEFAULT_NOTICE_DE: &str = include_str!("../docs/notice.de.txt");
/// The built-in English data-protection notice (the same template).
pub const DEFAULT_NOTICE_EN: &str = include_str!("../docs/notice.en.txt");
/// Who is responsible, while `[notice] controller` is not set (the bot warns at every start).
const PLACEHOLDER_CONTROLLER: [&str; 2] = [
    "die Stelle, die diesen Pilotbetrieb durchführt (siehe Ankündigung des Pilots)",
    "the office running this pilot (see the pilot's announcement)",
];
/// Avatars larger than this are refused (clients show them at 32–96 px).
const MAX_AVATAR_BYTES: u64 = 1024 * 1024;
/// The name of a participant's DM unless `[bot] dm_name` says otherwise.
const DEFAULT_DM_NAME: [&str; 2] = ["Pilot-Umfrage", "Pilot survey"];
/// The topic of a participant's DM unless `[bot] dm_topic` says otherwise.
const DEFAULT_DM_TOPIC: [&str; 2] = [
    "Umfragen zum BundesMessenger-Pilot. Freiwillig; „hilfe“ zeigt, was Sie schreiben können.",
    "Short surveys of the BundesMessenger pilot. Voluntary; “help” shows what you can write.",
];
/// The made-up town of `config.example.toml`'s office and contact.
const EXAMPLE_MARK: &str = "Musterstadt";
/// The contact, while `[notice] contact` is not set.
const PLACEHOLDER_CONTACT: [&str; 2] = [
    "die oder der Datenschutzbeauftragte Ihrer Verwaltung",
    "your administration's data protection officer",
];

/// The notice as participants read it: the configured text (or the built-in template) with
/// the responsible office, the contact and the configured figures filled in, so the notice
/// never states a group size or a retention period the bot does not apply. The flag is false
/// while the office or the contact is a placeholder.
fn notice(
    raw: &raw::Notice,
    min_group_size: u32,
    retention_days: u32,
    privacy: &PrivacyConfig,
) -> (crate::conversation::Notice, bool) {
    let fill = |template: &str, i: usize| {
        template
            .replace(
                "{controller}",
                raw.controller
                    .as_deref()
                    .unwrap_or(PLACEHOLDER_CONTROLLER[i]),
            )
            .replace(
                "{contact}",
                raw.contact.as_deref().unwrap_or(PLACEHOLDER_CONTACT[i]),
            )
            .replace("{min_group_size}", &min_group_size.to_string())
            .replace("{retention_days}", &retention_days.to_string())
            .replace(
                "{chat_history}",
                &chat_history_sentence(privacy, if i == 0 { Lang::De } else { Lang::En }),
            )
    };
    let de = raw.de.as_deref().unwrap_or(DEFAULT_NOTICE_DE);
    let en = raw.en.as_deref().unwrap_or(DEFAULT_NOTICE_EN);
    let uses = |key: &str| de.contains(key) || en.contains(key);
    // The example config's office is a placeholder too: copied unchanged, it is warned about.
    let real = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.contains(EXAMPLE_MARK));
    let configured = (real(&raw.controller) || !uses("{controller}"))
        && (real(&raw.contact) || !uses("{contact}"));
    (
        crate::conversation::Notice {
            de: fill(de, 0),
            en: fill(en, 1),
        },
        configured,
    )
}

/// `[matrix]`
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// Base URL of the homeserver's client API.
    pub homeserver: Url,
    /// The bot's full Matrix id.
    pub user: OwnedUserId,
    /// The bot's password: needed on the first start (later starts restore the session).
    pub password: Option<Secret>,
    /// An access token for the bot's account, instead of a password: for homeservers that log
    /// people in through an identity provider (OIDC, the Matrix Authentication Service), where
    /// password login may be off. Used on the first start only, like the password.
    pub access_token: Option<Secret>,
    /// The device name shown in the participants' clients.
    pub device_name: String,
    /// Which devices the bot takes answers and commands from and shares room keys with.
    pub device_trust: DeviceTrust,
    /// Whether the bot sets up secret storage and server-side key backup with a recovery key,
    /// so `pulsebot recover` can restore its identity after a lost data directory.
    pub recovery: bool,
    /// `matrix.max_send_rate`: at most this many events per second from the bot (messages,
    /// replies, redactions, new DMs), shared fairly across rooms (`bot::pace`).
    /// default: 10
    pub max_send_rate: f64,
}

/// Default of `matrix.max_send_rate` (events per second).
pub const DEFAULT_MAX_SEND_RATE: f64 = 10.0;
/// Bounds of `matrix.max_send_rate`: below one event in ten seconds a round stalls; above
/// 1,000 it is no cap.
const MAX_SEND_RATE_BOUNDS: (f64, f64) = (0.1, 1000.0);

/// `matrix.device_trust`: which of a user's devices the bot trusts.
///
/// Matrix clients are moving to exclude devices their owner has not verified (MSC4153): a
/// device someone logged in to without verifying it could belong to whoever has the password.
/// `CrossSigned` follows them; `Any` is the older behaviour, for a pilot whose users do not
/// verify their devices. What each setting does exactly is in `docs/operations.md`
/// ("Trusted devices") and `crate::matrix::trust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceTrust {
    /// `"cross-signed"` (default): only devices their owner has cross-signed, or a user's
    /// only device when the user has no cross-signing identity.
    #[default]
    CrossSigned,
    /// `"any"`: every device of a user.
    Any,
}

impl DeviceTrust {
    /// The value as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceTrust::CrossSigned => "cross-signed",
            DeviceTrust::Any => "any",
        }
    }

    /// Reads the config value; `None` for anything else.
    pub fn parse(s: &str) -> Option<DeviceTrust> {
        match s {
            "cross-signed" => Some(DeviceTrust::CrossSigned),
            "any" => Some(DeviceTrust::Any),
            _ => None,
        }
    }
}

/// `[bot]`
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Who may run admin commands.
    pub admins: Vec<OwnedUserId>,
    /// The room where admin commands are taken and reports are uploaded.
    pub admin_room: Option<OwnedRoomOrAliasId>,
    /// The rooms whose members are the pilot participants.
    pub pilot_rooms: Vec<OwnedRoomOrAliasId>,
    /// Members of pilot rooms who are never asked (e.g. other bots).
    pub ignore_users: Vec<OwnedUserId>,
    /// Language for participants who have not chosen one.
    pub default_language: Lang,
    /// IANA name of the time zone schedules are written in.
    pub timezone_name: String,
    /// The time zone itself.
    pub timezone: jiff::tz::TimeZone,
    /// The bot's display name, set at start when it differs (`None`: left as it is).
    pub display_name: Option<String>,
    /// The bot's avatar (a PNG or JPEG file), uploaded at start when it changed.
    pub avatar: Option<PathBuf>,
    /// The name every new participant DM gets, so participants recognise it.
    pub dm_name: String,
    /// The topic every new participant DM gets.
    pub dm_topic: String,
}

/// `[store]`
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (session, SDK store, pulsebot store, lock).
    pub path: PathBuf,
    /// Passphrase that encrypts everything in the data directory.
    pub passphrase: Secret,
}

impl StoreConfig {
    /// pulsebot's own encrypted store (sled) inside the data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.path.join("data")
    }
}

impl Config {
    /// Surveys whose rounds stay open longer than `privacy.chat_history_lifetime` (in
    /// `"retention"` mode): the homeserver would purge a round's questions before a late
    /// participant answers them. Allowed (a shorter lifetime keeps less), but named with
    /// the key and the survey so the operator can lengthen it.
    pub fn chat_history_warnings<'a>(
        &self,
        surveys: impl IntoIterator<Item = &'a crate::survey::Survey>,
    ) -> Vec<String> {
        let Some(life) = self.privacy.dm_retention() else {
            return Vec::new();
        };
        let life_secs = i64::try_from(life.as_secs()).unwrap_or(i64::MAX);
        surveys
            .into_iter()
            .filter(|s| s.schedule.open_for.nominal_minutes().saturating_mul(60) >= life_secs)
            .map(|s| {
                format!(
                    "privacy.chat_history_lifetime ({}) is not longer than the rounds of survey `{}` stay open ({} minutes, {}): the homeserver purges questions before late participants answer them; set it longer than the longest open_for",
                    lifetime_words(life, Lang::En),
                    s.id,
                    s.schedule.open_for.nominal_minutes(),
                    s.file
                )
            })
            .collect()
    }

    /// The defaults survey files inherit from this config.
    pub fn survey_defaults(&self) -> crate::survey::SurveyDefaults {
        crate::survey::SurveyDefaults {
            timezone: self.bot.timezone.clone(),
            min_group_size: self.privacy.min_group_size,
            pilot_rooms: self.bot.pilot_rooms.iter().map(|r| r.to_string()).collect(),
            language: self.bot.default_language,
        }
    }
}

/// `[surveys]`
#[derive(Debug, Clone)]
pub struct SurveysConfig {
    /// Folder of survey files.
    pub dir: PathBuf,
}

/// `[privacy]`
#[derive(Debug, Clone)]
pub struct PrivacyConfig {
    /// Aggregates from fewer respondents than this are suppressed.
    pub min_group_size: u32,
    /// Raw answers are deleted this many days after their round closed.
    pub retention_days: u32,
    /// How the answers in the participants' direct chats leave the homeserver.
    pub chat_history: ChatHistory,
    /// `privacy.chat_history_lifetime`: with `"retention"`, how long after it was sent the
    /// homeserver purges a message of a participant's direct chat.
    pub chat_history_lifetime: std::time::Duration,
    /// Whether a distribution is held to k as a whole group or cell by cell (default group).
    pub distributions: crate::stats::Distributions,
}

impl PrivacyConfig {
    /// The `m.room.retention` lifetime every DM carries, if the mode sets one.
    pub fn dm_retention(&self) -> Option<std::time::Duration> {
        (self.chat_history == ChatHistory::Retention).then_some(self.chat_history_lifetime)
    }
}

/// `privacy.chat_history`: what happens to the answers in a participant's direct chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChatHistory {
    /// `"retention"` (default): every DM carries a retention policy (`m.room.retention`,
    /// MSC1763); a homeserver with retention enabled purges each message
    /// `chat_history_lifetime` after it was sent.
    #[default]
    Retention,
    /// `"redact"`: the bot redacts a participant's messages of a round once they finished
    /// it, at the latest when it closes.
    Redact,
    /// `"keep"`: the messages stay until the participant deletes them.
    Keep,
}

impl ChatHistory {
    /// The value as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatHistory::Retention => "retention",
            ChatHistory::Redact => "redact",
            ChatHistory::Keep => "keep",
        }
    }

    /// Reads the config value; `None` for anything else.
    pub fn parse(s: &str) -> Option<ChatHistory> {
        match s {
            "retention" => Some(ChatHistory::Retention),
            "redact" => Some(ChatHistory::Redact),
            "keep" => Some(ChatHistory::Keep),
            _ => None,
        }
    }
}

/// Default of `privacy.chat_history_lifetime`.
const DEFAULT_CHAT_HISTORY_LIFETIME: &str = "30 days";
/// Longest `privacy.chat_history_lifetime` (what `retention_days` allows too).
const MAX_CHAT_HISTORY_SECS: u64 = 3650 * 86_400;

/// Reads a lifetime such as "30 days", "12 hours", "90 minutes" or "20 seconds" (also
/// "30d", "12h", "90min", "20s" and the German unit names).
fn parse_lifetime(s: &str) -> Option<std::time::Duration> {
    let s = s.trim().to_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let unit = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" | "sekunde" | "sekunden" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" | "minuten" => 60,
        "h" | "hour" | "hours" | "stunde" | "stunden" => 3600,
        "d" | "day" | "days" | "tag" | "tage" => 86_400,
        "w" | "week" | "weeks" | "woche" | "wochen" => 7 * 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(n.checked_mul(unit)?))
}

/// A lifetime as a participant reads it: "30 Tage" / "30 days", in the largest whole unit.
pub fn lifetime_words(d: std::time::Duration, lang: Lang) -> String {
    let secs = d.as_secs();
    let units: [(u64, [&str; 4]); 4] = [
        (86_400, ["Tag", "Tage", "day", "days"]),
        (3600, ["Stunde", "Stunden", "hour", "hours"]),
        (60, ["Minute", "Minuten", "minute", "minutes"]),
        (1, ["Sekunde", "Sekunden", "second", "seconds"]),
    ];
    let (size, names) = units
        .iter()
        .find(|(size, _)| secs >= *size && secs.is_multiple_of(*size))
        .copied()
        .unwrap_or(units[3]);
    let n = secs / size;
    let name = match (lang, n == 1) {
        (Lang::De, true) => names[0],
        (Lang::De, false) => names[1],
        (_, true) => names[2],
        (_, false) => names[3],
    };
    format!("{n} {name}")
}

/// What the notice says about the chat history in each mode (`{chat_history}`).
fn chat_history_sentence(privacy: &PrivacyConfig, lang: Lang) -> String {
    let start = lang.pick(
        "Ihre Antworten stehen auch als Nachrichten in diesem verschlüsselten Chat; das Bot-Konto, das die IT betreibt, kann ihn lesen.",
        "your answers are also messages in this encrypted chat; the bot account, run by IT, can read it.",
    );
    let mode = match privacy.chat_history {
        ChatHistory::Retention => {
            let life = lifetime_words(privacy.chat_history_lifetime, lang);
            lang.pick(
                &format!("Der Server löscht jede Nachricht in diesem Chat {life} nach dem Senden."),
                &format!("The server deletes every message in this chat {life} after it was sent."),
            )
            .to_owned()
        }
        ChatHistory::Redact => lang
            .pick(
                "Sobald Sie eine Runde beendet haben, spätestens wenn sie endet, entfernt der Bot Ihre Nachrichten dieser Runde aus dem Chat.",
                "Once you have finished a round, at the latest when it ends, the bot removes your messages of that round from this chat.",
            )
            .to_owned(),
        ChatHistory::Keep => lang
            .pick(
                "Die Nachrichten bleiben hier, bis Sie sie selbst löschen.",
                "The messages stay here until you delete them yourself.",
            )
            .to_owned(),
    };
    let erase = lang.pick(
        "„löschen“ entfernt Ihre Nachrichten hier sofort.",
        "\"delete\" removes your messages here at once.",
    );
    format!("{start} {mode} {erase}")
}

/// `[metrics]`
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Where `/metrics` and `/health` are served; `None` when switched off.
    pub listen: Option<std::net::SocketAddr>,
}

/// Default of `sync.batch_ms`.
const DEFAULT_SYNC_BATCH_MS: i64 = 0;

/// `[sync]`
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Timeline events per room per sync before the server marks the timeline `limited`.
    pub timeline_limit: u32,
    /// Long-poll timeout of each sync request, in seconds.
    pub timeout_secs: u64,
    /// Least time between the starts of two sync requests, in milliseconds: while events
    /// flow, they are fetched in batches rather than one request per event.
    pub batch_ms: u64,
    /// How long an undecryptable answer waits for its keys before the participant is
    /// asked again, in seconds.
    pub undecryptable_timeout_secs: u64,
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `bot.admins`; `None` for a file-level problem.
    pub key: Option<String>,
    /// 1-based line and column, where known.
    pub position: Option<(usize, usize)>,
    /// What is wrong and what to do.
    pub message: String,
}

/// A config that cannot be used: every problem found, with the file they are in.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.position {
                Some((line, col)) => write!(f, "{file}:{line}:{col}: ")?,
                None => write!(f, "{file}: ")?,
            }
            if let Some(key) = &p.key {
                write!(f, "key `{key}`: ")?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

mod raw {
    //! The file as written: every key optional here so that `check` can name what is missing.
    use super::Spanned;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct File {
        pub matrix: Option<Spanned<Matrix>>,
        pub bot: Option<Spanned<Bot>>,
        #[serde(default)]
        pub store: Store,
        #[serde(default)]
        pub surveys: Surveys,
        #[serde(default)]
        pub privacy: Privacy,
        #[serde(default)]
        pub sync: Sync,
        #[serde(default)]
        pub notice: Notice,
        #[serde(default)]
        pub metrics: Metrics,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Metrics {
        pub listen: Option<Spanned<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Notice {
        pub controller: Option<String>,
        pub contact: Option<String>,
        pub de: Option<String>,
        pub en: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Matrix {
        pub homeserver: Option<Spanned<String>>,
        pub user: Option<Spanned<String>>,
        pub password_file: Option<Spanned<String>>,
        pub access_token_file: Option<Spanned<String>>,
        pub recovery: Option<bool>,
        pub device_name: Option<String>,
        pub device_trust: Option<Spanned<String>>,
        pub max_send_rate: Option<Spanned<f64>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Bot {
        #[serde(default)]
        pub admins: Vec<Spanned<String>>,
        pub admin_room: Option<Spanned<String>>,
        #[serde(default)]
        pub pilot_rooms: Vec<Spanned<String>>,
        #[serde(default)]
        pub ignore_users: Vec<Spanned<String>>,
        pub default_language: Option<Spanned<String>>,
        pub timezone: Option<Spanned<String>>,
        pub display_name: Option<Spanned<String>>,
        pub avatar: Option<Spanned<String>>,
        pub dm_name: Option<Spanned<String>>,
        pub dm_topic: Option<Spanned<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Store {
        pub path: Option<String>,
        pub passphrase_file: Option<Spanned<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Surveys {
        pub dir: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Privacy {
        pub min_group_size: Option<Spanned<i64>>,
        pub retention_days: Option<Spanned<i64>>,
        pub chat_history: Option<Spanned<String>>,
        pub chat_history_lifetime: Option<Spanned<String>>,
        pub distributions: Option<Spanned<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct Sync {
        pub timeline_limit: Option<Spanned<i64>>,
        pub timeout_secs: Option<Spanned<i64>>,
        pub batch_ms: Option<Spanned<i64>>,
        pub undecryptable_timeout_secs: Option<Spanned<i64>>,
    }
}

/// Where the secrets come from besides the files: the environment, or a test's own values.
#[derive(Debug, Clone, Default)]
pub struct SecretOverrides {
    /// Overrides `matrix.password_file`.
    pub password: Option<Secret>,
    /// Overrides `matrix.access_token_file`.
    pub access_token: Option<Secret>,
    /// Overrides `store.passphrase_file`.
    pub passphrase: Option<Secret>,
}

impl SecretOverrides {
    /// Reads `PULSEBOT_PASSWORD` and `PULSEBOT_STORE_PASSPHRASE`.
    pub fn from_env() -> Self {
        let get = |name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret)
        };
        SecretOverrides {
            password: get(ENV_PASSWORD),
            access_token: get(ENV_ACCESS_TOKEN),
            passphrase: get(ENV_PASSPHRASE),
        }
    }
}

/// Picks the config file: `--config`, else `PULSEBOT_CONFIG`, else `./config.toml`.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os(ENV_CONFIG) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("config.toml"),
    }
}

impl Config {
    /// Reads and checks a config file, with secrets overridden from the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, &SecretOverrides::from_env())
    }

    /// Reads and checks a config file with explicit secret overrides.
    pub fn load_with(path: &Path, overrides: &SecretOverrides) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            problems: vec![Problem {
                key: None,
                position: None,
                message: format!(
                    "cannot read the config file: {e}. Pass --config FILE, set {ENV_CONFIG}, \
                     or copy config.example.toml to config.toml"
                ),
            }],
        })?;
        Self::parse(path, &text, overrides)
    }

    /// Checks config text; `path` names the file in messages and anchors relative paths.
    pub fn parse(
        path: &Path,
        text: &str,
        overrides: &SecretOverrides,
    ) -> Result<Config, ConfigError> {
        let fail = |problems| ConfigError {
            file: path.to_path_buf(),
            problems,
        };
        let raw: raw::File =
            toml::from_str(text).map_err(|e| fail(vec![serde_problem(text, &e)]))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut c = Checker {
            text,
            base,
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        let config = c.check(path, raw, overrides);
        match config {
            Some(config) if c.problems.is_empty() => Ok(config),
            _ => Err(fail(c.problems)),
        }
    }
}

/// Turns a serde/TOML error into a problem with the key it concerns.
fn serde_problem(text: &str, e: &toml::de::Error) -> Problem {
    let position = e.span().map(|s| line_col(text, s.start));
    let message = e.message().trim().to_string();
    // Serde names the field but not the table it sits in; the table is the nearest header
    // above the error, and a wrongly typed value's key is the one on the error's line.
    let key = position.and_then(|(line, _)| {
        let section = section_at(text, line);
        let field = backticked(&message).or_else(|| key_on_line(text, line));
        // An error on a table header (`[matirx]`) concerns the table itself.
        let on_header = text
            .lines()
            .nth(line.saturating_sub(1))
            .is_some_and(|l| l.trim_start().starts_with('['));
        match (section, field) {
            (Some(s), _) if on_header => Some(s),
            (Some(s), Some(f)) if !message.starts_with("unknown field") || !s.is_empty() => {
                Some(format!("{s}.{f}"))
            }
            (Some(s), None) => Some(s),
            (None, Some(f)) => Some(f),
            _ => None,
        }
    });
    let hint = if message.starts_with("unknown field") {
        " (check the spelling against config.example.toml)"
    } else {
        ""
    };
    Problem {
        key,
        position,
        message: format!("{message}{hint}"),
    }
}

fn backticked(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    rest.split('`').next().map(str::to_string)
}

fn section_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .find_map(|l| {
            let t = l.trim();
            t.starts_with('[')
                .then(|| t.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
}

fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Checker<'a> {
    text: &'a str,
    base: PathBuf,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Checker<'_> {
    fn problem(&mut self, key: &str, span: Option<std::ops::Range<usize>>, message: String) {
        self.problems.push(Problem {
            key: Some(key.to_string()),
            position: span.map(|s| line_col(self.text, s.start)),
            message,
        });
    }

    fn missing(&mut self, key: &str, what: &str) {
        self.problem(key, None, format!("missing: {what}"));
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn user_id(&mut self, key: &str, v: &Spanned<String>) -> Option<OwnedUserId> {
        match OwnedUserId::try_from(v.get_ref().as_str()) {
            Ok(id) => Some(id),
            Err(e) => {
                self.problem(
                    key,
                    Some(v.span()),
                    format!(
                        "malformed Matrix id `{}` ({e}); write it in full, e.g. `@name:example.org`",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn room(&mut self, key: &str, v: &Spanned<String>) -> Option<OwnedRoomOrAliasId> {
        match OwnedRoomOrAliasId::try_from(v.get_ref().as_str()) {
            Ok(id) => Some(id),
            Err(e) => {
                self.problem(
                    key,
                    Some(v.span()),
                    format!(
                        "malformed room `{}` ({e}); give a room id `!abc:example.org` \
                         or an alias `#pilot:example.org`",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn secret(
        &mut self,
        key: &str,
        file: Option<&Spanned<String>>,
        env: &str,
        over: Option<&Secret>,
    ) -> Option<Secret> {
        self.secret_or_saved(key, file, env, over, None)
    }

    /// As [`Checker::secret`]; with `saved` (the saved session file), a secret file that does
    /// not exist is only warned about: the secret is needed for a login, and a saved session
    /// makes a login unnecessary, so a restart must not fail once the operator removed it.
    fn secret_or_saved(
        &mut self,
        key: &str,
        file: Option<&Spanned<String>>,
        env: &str,
        over: Option<&Secret>,
        saved: Option<&Path>,
    ) -> Option<Secret> {
        if let Some(s) = over {
            return Some(s.clone());
        }
        let Some(file) = file else {
            self.missing(
                key,
                &format!("set `{key}` or the environment variable {env}"),
            );
            return None;
        };
        let path = self.path(file.get_ref());
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                let s = s.trim_end_matches(['\n', '\r']);
                if s.is_empty() {
                    self.problem(
                        key,
                        Some(file.span()),
                        format!("the secret file {} is empty", path.display()),
                    );
                    None
                } else {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path).map_or(0, |m| m.permissions().mode());
                    // Others may never read a secret, nor its group change it. Group read
                    // stays allowed: the packaged layout shares the files with the
                    // operators' group `pulsebot` (0640 root:pulsebot, docs/operations.md).
                    if mode & 0o027 != 0 {
                        self.problem(
                            key,
                            Some(file.span()),
                            format!(
                                "the secret file {} may be read or changed by other users \
                                 (mode {:04o}); run `chmod 600 {}` (or `chmod 640` with the \
                                 file's group the service's group, see docs/operations.md, \
                                 \"Secrets\")",
                                path.display(),
                                mode & 0o7777,
                                path.display()
                            ),
                        );
                        return None;
                    }
                    Some(Secret(s.to_string()))
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && saved.is_some() => {
                self.warnings.push(format!(
                    "{key}: the secret file {} does not exist; fine while the saved session in {} \
                     is used, but a new login (after a lost session) needs it",
                    path.display(),
                    saved
                        .map(Path::display)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ));
                None
            }
            Err(e) => {
                self.problem(
                    key,
                    Some(file.span()),
                    format!(
                        "cannot read the secret file {}: {e}; create it (mode 0600) or set {env}",
                        path.display()
                    ),
                );
                None
            }
        }
    }

    fn int(
        &mut self,
        key: &str,
        v: Option<&Spanned<i64>>,
        default: i64,
        min: i64,
        max: i64,
    ) -> i64 {
        let Some(v) = v else { return default };
        let n = *v.get_ref();
        if n < min || n > max {
            self.problem(
                key,
                Some(v.span()),
                format!("{n} is out of range: give a whole number from {min} to {max}"),
            );
            return default;
        }
        n
    }

    fn check(&mut self, path: &Path, raw: raw::File, over: &SecretOverrides) -> Option<Config> {
        let _ = path;
        let store_path = self.path(raw.store.path.as_deref().unwrap_or("store"));
        let session_file = store_path.join(crate::matrix::session::SESSION_FILE);
        let saved = session_file.exists().then_some(session_file.as_path());
        let matrix = match raw.matrix {
            None => {
                self.missing(
                    "matrix",
                    "the [matrix] table (homeserver, user, password_file)",
                );
                None
            }
            Some(m) => self.matrix(m.into_inner(), over, saved),
        };
        let bot = match raw.bot {
            None => {
                self.missing("bot", "the [bot] table (admins, pilot_rooms, ...)");
                None
            }
            Some(b) => self.bot(b.into_inner()),
        };
        let passphrase = self.secret(
            "store.passphrase_file",
            raw.store.passphrase_file.as_ref(),
            ENV_PASSPHRASE,
            over.passphrase.as_ref(),
        );
        if let Some(p) = &passphrase
            && p.expose() == EXAMPLE_SECRET
        {
            self.problem(
                "store.passphrase_file",
                raw.store.passphrase_file.as_ref().map(|s| s.span()),
                "the passphrase is the example placeholder; choose a long random one".into(),
            );
        }
        let surveys_dir = self.path(raw.surveys.dir.as_deref().unwrap_or("surveys"));
        let min_group_size = self.int(
            "privacy.min_group_size",
            raw.privacy.min_group_size.as_ref(),
            5,
            2,
            1000,
        ) as u32;
        let retention_days = self.int(
            "privacy.retention_days",
            raw.privacy.retention_days.as_ref(),
            365,
            1,
            3650,
        ) as u32;
        let timeline_limit = self.int(
            "sync.timeline_limit",
            raw.sync.timeline_limit.as_ref(),
            500,
            1,
            1000,
        ) as u32;
        let timeout_secs = self.int(
            "sync.timeout_secs",
            raw.sync.timeout_secs.as_ref(),
            30,
            1,
            300,
        ) as u64;
        let batch_ms = self.int(
            "sync.batch_ms",
            raw.sync.batch_ms.as_ref(),
            DEFAULT_SYNC_BATCH_MS,
            0,
            5000,
        ) as u64;
        let undecryptable_timeout_secs = self.int(
            "sync.undecryptable_timeout_secs",
            raw.sync.undecryptable_timeout_secs.as_ref(),
            120,
            1,
            86400,
        ) as u64;
        let listen = match &raw.metrics.listen {
            None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
            Some(v) if v.get_ref() == "off" => None,
            Some(v) => match v.get_ref().parse::<std::net::SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.problem(
                        "metrics.listen",
                        Some(v.span()),
                        "not an address with port, e.g. \"127.0.0.1:9464\" (or \"off\")".into(),
                    );
                    None
                }
            },
        };
        let privacy = self.privacy(&raw.privacy, min_group_size, retention_days);
        let (notice, notice_configured) =
            notice(&raw.notice, min_group_size, retention_days, &privacy);
        Some(Config {
            source: path.to_path_buf(),
            matrix: matrix?,
            bot: bot?,
            store: StoreConfig {
                path: store_path,
                passphrase: passphrase?,
            },
            surveys: SurveysConfig { dir: surveys_dir },
            privacy,
            sync: SyncConfig {
                timeline_limit,
                timeout_secs,
                batch_ms,
                undecryptable_timeout_secs,
            },
            metrics: MetricsConfig { listen },
            notice,
            notice_configured,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn matrix(
        &mut self,
        m: raw::Matrix,
        over: &SecretOverrides,
        saved: Option<&Path>,
    ) -> Option<MatrixConfig> {
        let homeserver = match &m.homeserver {
            None => {
                self.missing(
                    "matrix.homeserver",
                    "the homeserver's URL, e.g. https://matrix.example.org",
                );
                None
            }
            Some(h) => match Url::parse(h.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                Ok(_) => {
                    self.problem(
                        "matrix.homeserver",
                        Some(h.span()),
                        format!("`{}` is not an http(s) URL", h.get_ref()),
                    );
                    None
                }
                Err(e) => {
                    self.problem(
                        "matrix.homeserver",
                        Some(h.span()),
                        format!("`{}` is not a URL ({e})", h.get_ref()),
                    );
                    None
                }
            },
        };
        let user = match &m.user {
            None => {
                self.missing(
                    "matrix.user",
                    "the bot's full Matrix id, e.g. @pulsebot:example.org",
                );
                None
            }
            Some(u) => self.user_id("matrix.user", u),
        };
        // The login secret (password or access token) is optional: after the first start the
        // saved session is used, and an operator may remove the file then. A named but
        // unreadable file is an error until a session is saved.
        let has_password = over.password.is_some() || m.password_file.is_some();
        let has_token = over.access_token.is_some() || m.access_token_file.is_some();
        if has_password && has_token {
            self.problem(
                "matrix.access_token_file",
                m.access_token_file.as_ref().map(|s| s.span()),
                "both a password and an access token are set: keep one (password_file for \
                 password login, access_token_file for a homeserver with an identity provider)"
                    .into(),
            );
        }
        let password = if has_password {
            self.secret_or_saved(
                "matrix.password_file",
                m.password_file.as_ref(),
                ENV_PASSWORD,
                over.password.as_ref(),
                saved,
            )
        } else {
            None
        };
        let access_token = if has_token {
            self.secret_or_saved(
                "matrix.access_token_file",
                m.access_token_file.as_ref(),
                ENV_ACCESS_TOKEN,
                over.access_token.as_ref(),
                saved,
            )
        } else {
            None
        };
        let device_trust = match &m.device_trust {
            None => DeviceTrust::default(),
            Some(v) => DeviceTrust::parse(v.get_ref()).unwrap_or_else(|| {
                self.problem(
                    "matrix.device_trust",
                    Some(v.span()),
                    format!(
                        "`{}` is not a device trust level: use \"cross-signed\" (default) or \"any\"",
                        v.get_ref()
                    ),
                );
                DeviceTrust::default()
            }),
        };
        let max_send_rate = match &m.max_send_rate {
            None => DEFAULT_MAX_SEND_RATE,
            Some(v) => {
                let (min, max) = MAX_SEND_RATE_BOUNDS;
                let r = *v.get_ref();
                if r.is_finite() && (min..=max).contains(&r) {
                    r
                } else {
                    self.problem(
                        "matrix.max_send_rate",
                        Some(v.span()),
                        format!(
                            "{r} is out of range: give the events per second the bot may send, from {min} to {max} (default {DEFAULT_MAX_SEND_RATE})"
                        ),
                    );
                    DEFAULT_MAX_SEND_RATE
                }
            }
        };
        Some(MatrixConfig {
            homeserver: homeserver?,
            user: user?,
            password,
            access_token,
            recovery: m.recovery.unwrap_or(true),
            device_name: m.device_name.unwrap_or_else(|| "pulsebot".to_string()),
            device_trust,
            max_send_rate,
        })
    }

    /// `[privacy]` with `chat_history` and its lifetime checked.
    fn privacy(
        &mut self,
        p: &raw::Privacy,
        min_group_size: u32,
        retention_days: u32,
    ) -> PrivacyConfig {
        let distributions = match &p.distributions {
            None => crate::stats::Distributions::default(),
            Some(v) => crate::stats::Distributions::parse(v.get_ref()).unwrap_or_else(|| {
                self.problem(
                    "privacy.distributions",
                    Some(v.span()),
                    format!(
                        "`{}` is not a distribution rule: use \"group\" (default) or \"cell\"",
                        v.get_ref()
                    ),
                );
                crate::stats::Distributions::default()
            }),
        };
        let chat_history = match &p.chat_history {
            None => ChatHistory::default(),
            Some(v) => ChatHistory::parse(v.get_ref()).unwrap_or_else(|| {
                self.problem(
                    "privacy.chat_history",
                    Some(v.span()),
                    format!(
                        "`{}` is not a chat-history mode: use \"retention\" (default), \"redact\" or \"keep\"",
                        v.get_ref()
                    ),
                );
                ChatHistory::default()
            }),
        };
        let default =
            parse_lifetime(DEFAULT_CHAT_HISTORY_LIFETIME).expect("the default lifetime parses");
        let chat_history_lifetime = match &p.chat_history_lifetime {
            None => default,
            Some(v) => match parse_lifetime(v.get_ref()) {
                Some(d) if d.as_secs() >= 1 && d.as_secs() <= MAX_CHAT_HISTORY_SECS => d,
                _ => {
                    self.problem(
                        "privacy.chat_history_lifetime",
                        Some(v.span()),
                        format!(
                            "`{}` is not a lifetime from 1 second to 3650 days: write e.g. \"30 days\", \"12 hours\" or \"90 minutes\"",
                            v.get_ref()
                        ),
                    );
                    default
                }
            },
        };
        PrivacyConfig {
            min_group_size,
            retention_days,
            chat_history,
            chat_history_lifetime,
            distributions,
        }
    }

    fn bot(&mut self, b: raw::Bot) -> Option<BotConfig> {
        let admins: Vec<_> = b
            .admins
            .iter()
            .filter_map(|a| self.user_id("bot.admins", a))
            .collect();
        if b.admins.is_empty() {
            self.missing("bot.admins", "at least one admin's Matrix id");
        }
        let ignore_users = b
            .ignore_users
            .iter()
            .filter_map(|a| self.user_id("bot.ignore_users", a))
            .collect();
        let pilot_rooms = b
            .pilot_rooms
            .iter()
            .filter_map(|r| self.room("bot.pilot_rooms", r))
            .collect();
        let admin_room = b
            .admin_room
            .as_ref()
            .and_then(|r| self.room("bot.admin_room", r));
        let default_language = match &b.default_language {
            None => Lang::De,
            Some(l) => Lang::parse(l.get_ref()).unwrap_or_else(|| {
                self.problem(
                    "bot.default_language",
                    Some(l.span()),
                    format!(
                        "`{}` is not a supported language: use \"de\" or \"en\"",
                        l.get_ref()
                    ),
                );
                Lang::De
            }),
        };
        let tz_name = b
            .timezone
            .as_ref()
            .map_or("Europe/Berlin".to_string(), |t| t.get_ref().clone());
        let timezone = match jiff::tz::TimeZone::get(&tz_name) {
            Ok(tz) => tz,
            Err(_) => {
                self.problem(
                    "bot.timezone",
                    b.timezone.as_ref().map(|t| t.span()),
                    format!(
                        "unknown time zone `{tz_name}`: use an IANA name like \"Europe/Berlin\""
                    ),
                );
                jiff::tz::TimeZone::UTC
            }
        };
        let avatar = b.avatar.as_ref().and_then(|a| {
            let path = self.path(a.get_ref());
            let ok_type = matches!(
                path.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_lowercase)
                    .as_deref(),
                Some("png" | "jpg" | "jpeg")
            );
            match std::fs::metadata(&path) {
                _ if !ok_type => {
                    self.problem(
                        "bot.avatar",
                        Some(a.span()),
                        "not a .png or .jpg file: give the path of a PNG or JPEG image".into(),
                    );
                    None
                }
                Ok(m) if m.is_file() && m.len() <= MAX_AVATAR_BYTES => Some(path),
                Ok(_) => {
                    self.problem(
                        "bot.avatar",
                        Some(a.span()),
                        format!(
                            "`{}` is not a file of at most 1 MB: use a small square image",
                            path.display()
                        ),
                    );
                    None
                }
                Err(e) => {
                    self.problem(
                        "bot.avatar",
                        Some(a.span()),
                        format!("cannot read `{}` ({e}): check the path", path.display()),
                    );
                    None
                }
            }
        });
        let text = |v: &Option<Spanned<String>>, default: &str| {
            v.as_ref()
                .map(|v| v.get_ref().trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let dm_name = text(
            &b.dm_name,
            default_language.pick(DEFAULT_DM_NAME[0], DEFAULT_DM_NAME[1]),
        );
        let dm_topic = text(
            &b.dm_topic,
            default_language.pick(DEFAULT_DM_TOPIC[0], DEFAULT_DM_TOPIC[1]),
        );
        Some(BotConfig {
            admins,
            admin_room,
            pilot_rooms,
            ignore_users,
            default_language,
            timezone_name: tz_name,
            timezone,
            display_name: b
                .display_name
                .as_ref()
                .map(|v| v.get_ref().trim().to_owned())
                .filter(|v| !v.is_empty()),
            avatar,
            dm_name,
            dm_topic,
        })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> SecretOverrides {
        SecretOverrides {
            password: Some(Secret::new("pw")),
            access_token: None,
            passphrase: Some(Secret::new("a long passphrase")),
        }
    }

    const GOOD: &str = r##"
[matrix]
homeserver = "http://127.0.0.1:8008"
user = "@pulsebot:localhost"

[bot]
admins = ["@admin:localhost"]
pilot_rooms = ["#pilot:localhost"]
"##;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/pulsebot/config.toml"), text, &secrets())
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(GOOD).expect("valid");
        assert_eq!(c.store.path, Path::new("/etc/pulsebot/store"));
        assert_eq!(c.privacy.min_group_size, 5);
        assert_eq!(c.bot.default_language, Lang::De);
        assert_eq!(c.bot.timezone_name, "Europe/Berlin");
        assert_eq!(c.sync.timeline_limit, 500);
    }

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let text = std::fs::read_to_string(&path).expect("config.example.toml exists");
        let c = Config::parse(&path, &text, &secrets()).expect("example is valid");
        assert!(!c.bot.admins.is_empty());
        assert_eq!(c.matrix.device_trust, DeviceTrust::CrossSigned);
        assert_eq!(c.privacy.distributions, crate::stats::Distributions::Group);
        // The example fills the built-in notice with its office, contact and figures; its
        // made-up office still counts as a placeholder (the bot warns until it is replaced).
        assert!(!c.notice_configured);
        assert!(
            c.notice.de.contains("Verantwortlich: Stadt Musterstadt"),
            "{}",
            c.notice.de
        );
        for text in [&c.notice.de, &c.notice.en] {
            assert!(!text.contains('{'), "a placeholder is left: {text}");
            assert!(text.contains(&format!(" {} ", c.privacy.min_group_size)));
            assert!(text.contains(&format!(" {} ", c.privacy.retention_days)));
        }
    }

    #[test]
    fn the_bot_looks_like_it_belongs() {
        let c = parse(GOOD).expect("valid");
        assert_eq!(c.bot.dm_name, "Pilot-Umfrage");
        assert!(c.bot.dm_topic.contains("„hilfe“"));
        assert_eq!(c.bot.display_name, None);
        let c = parse(&GOOD.replace(
            "[bot]\n",
            "[bot]\ndisplay_name = \"Umfrage-Bot\"\ndm_name = \"Umfrage\"\n",
        ))
        .expect("valid");
        assert_eq!(c.bot.display_name.as_deref(), Some("Umfrage-Bot"));
        assert_eq!(c.bot.dm_name, "Umfrage");
        let err = parse(&GOOD.replace("[bot]\n", "[bot]\navatar = \"logo.gif\"\n"))
            .expect_err("not an image type");
        assert!(err.to_string().contains("bot.avatar"), "{err}");
        let err = parse(&GOOD.replace("[bot]\n", "[bot]\navatar = \"/nonexistent/a.png\"\n"))
            .expect_err("missing file");
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn the_notice_states_the_configured_figures_and_office() {
        let c = parse(&format!(
            "{GOOD}\n[privacy]\nmin_group_size = 7\nretention_days = 90\n"
        ))
        .expect("valid");
        assert!(!c.notice_configured, "no office named: the bot warns");
        for text in [&c.notice.de, &c.notice.en] {
            assert!(text.contains(" 7 ") && text.contains(" 90 "), "{text}");
            assert!(!text.contains(" 5 ") && !text.contains("365"), "{text}");
            assert!(!text.contains('{'), "{text}");
        }
        let c = parse(&format!(
            "{GOOD}\n[notice]\ncontroller = \"Amt 10, Rathausplatz 1\"\ncontact = \"datenschutz@stadt.example\"\n"
        ))
        .expect("valid");
        assert!(c.notice_configured);
        assert!(
            c.notice
                .de
                .contains("Verantwortlich: Amt 10, Rathausplatz 1.")
        );
        assert!(c.notice.en.contains("Contact: datenschutz@stadt.example."));
        // A text of one's own without the placeholders counts as configured as it is.
        let c = parse(&format!(
            "{GOOD}\n[notice]\nde = \"Hinweis der Stadt X\"\nen = \"Notice of City X\"\n"
        ))
        .expect("valid");
        assert!(c.notice_configured);
        assert_eq!(c.notice.de, "Hinweis der Stadt X");
    }

    #[test]
    fn the_notice_says_what_the_chat_history_mode_does() {
        let c = parse(GOOD).expect("valid");
        assert_eq!(c.privacy.chat_history, ChatHistory::Retention);
        assert_eq!(
            c.privacy.dm_retention(),
            Some(std::time::Duration::from_secs(30 * 86_400))
        );
        assert!(
            c.notice.de.contains(
                "Der Server löscht jede Nachricht in diesem Chat 30 Tage nach dem Senden."
            ),
            "{}",
            c.notice.de
        );
        assert!(
            c.notice.en.contains(
                "The server deletes every message in this chat 30 days after it was sent."
            ),
            "{}",
            c.notice.en
        );
        let with = |extra: &str| parse(&format!("{GOOD}\n[privacy]\n{extra}\n")).expect("valid");
        let c = with("chat_history_lifetime = \"12 hours\"");
        assert!(
            c.notice.de.contains(" 12 Stunden nach dem Senden"),
            "{}",
            c.notice.de
        );
        let c = with("chat_history = \"redact\"");
        assert_eq!(c.privacy.dm_retention(), None);
        assert!(
            c.notice
                .de
                .contains("entfernt der Bot Ihre Nachrichten dieser Runde")
        );
        assert!(
            c.notice
                .en
                .contains("the bot removes your messages of that round")
        );
        let c = with("chat_history = \"keep\"");
        assert_eq!(c.privacy.dm_retention(), None);
        assert!(
            c.notice
                .de
                .contains("Die Nachrichten bleiben hier, bis Sie sie selbst löschen.")
        );
        assert!(
            c.notice
                .en
                .contains("The messages stay here until you delete them yourself.")
        );
        for mode in ["retention", "redact", "keep"] {
            let c = with(&format!("chat_history = \"{mode}\""));
            assert_eq!(c.privacy.chat_history.as_str(), mode);
            assert!(
                c.notice
                    .de
                    .contains("„löschen“ entfernt Ihre Nachrichten hier sofort.")
            );
            assert!(
                c.notice
                    .en
                    .contains("\"delete\" removes your messages here at once.")
            );
            assert!(!c.notice.de.contains('{') && !c.notice.en.contains('{'));
        }
        let e = problem(&format!("{GOOD}\n[privacy]\nchat_history = \"purge\"\n"));
        assert!(
            e.contains("key `privacy.chat_history`: `purge` is not a chat-history mode"),
            "{e}"
        );
        for bad in [
            "\"0 days\"",
            "\"3 fortnights\"",
            "\"9999 days\"",
            "\"days\"",
        ] {
            let e = problem(&format!(
                "{GOOD}\n[privacy]\nchat_history_lifetime = {bad}\n"
            ));
            assert!(e.contains("key `privacy.chat_history_lifetime`"), "{e}");
            assert!(e.contains(":11:"), "{e}");
        }
    }

    #[test]
    fn a_lifetime_shorter_than_a_round_is_open_is_named_with_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "id = \"s\"\ntitle = { de = \"T\", en = \"T\" }\nintro = { de = \"I\", en = \"I\" }\n[schedule]\nmanual = true\nopen_for = \"3 days\"\n\n[[blocks]]\ntype = \"nps\"\nid = \"r\"\nsubject = \"X\"\n",
        )
        .expect("write");
        let c = parse(&format!(
            "{GOOD}\n[privacy]\nchat_history_lifetime = \"2 days\"\n"
        ))
        .expect("valid");
        let report = crate::survey::validate_paths(&[file], &c.survey_defaults());
        assert!(report.diagnostics.is_empty(), "{report}");
        let w = c.chat_history_warnings(&report.surveys);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("privacy.chat_history_lifetime (2 days)"),
            "{}",
            w[0]
        );
        assert!(
            w[0].contains("survey `s`") && w[0].contains("4320 minutes"),
            "{}",
            w[0]
        );
        let c = parse(&format!(
            "{GOOD}\n[privacy]\nchat_history_lifetime = \"4 days\"\n"
        ))
        .expect("valid");
        assert!(c.chat_history_warnings(&report.surveys).is_empty());
        let c = parse(&format!(
            "{GOOD}\n[privacy]\nchat_history = \"redact\"\nchat_history_lifetime = \"1 hour\"\n"
        ))
        .expect("valid");
        assert!(
            c.chat_history_warnings(&report.surveys).is_empty(),
            "only retention purges"
        );
        assert_eq!(
            lifetime_words(std::time::Duration::from_secs(1), Lang::De),
            "1 Sekunde"
        );
        assert_eq!(
            lifetime_words(std::time::Duration::from_secs(90), Lang::En),
            "90 seconds"
        );
        assert_eq!(
            lifetime_words(std::time::Duration::from_secs(7200), Lang::En),
            "2 hours"
        );
    }

    #[test]
    fn sync_batch_is_checked() {
        assert_eq!(parse(GOOD).expect("valid").sync.batch_ms, 0);
        let c = parse(&format!("{GOOD}\n[sync]\nbatch_ms = 150\n")).expect("valid");
        assert_eq!(c.sync.batch_ms, 150);
        let e = problem(&format!("{GOOD}\n[sync]\nbatch_ms = -1\n"));
        assert!(e.contains("sync.batch_ms"), "{e}");
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn max_send_rate_defaults_to_ten_and_is_checked() {
        assert_eq!(parse(GOOD).expect("valid").matrix.max_send_rate, 10.0);
        for (v, want) in [("2.5", 2.5), ("1000", 1000.0), ("0.1", 0.1), ("25", 25.0)] {
            let text = GOOD.replace("[bot]", &format!("max_send_rate = {v}\n\n[bot]"));
            assert_eq!(parse(&text).expect("valid").matrix.max_send_rate, want);
        }
        for v in ["0", "-3", "0.05", "1001", "nan", "inf"] {
            let text = GOOD.replace("[bot]", &format!("max_send_rate = {v}\n\n[bot]"));
            let e = problem(&text);
            assert!(e.contains("key `matrix.max_send_rate`"), "{v}: {e}");
            assert!(e.contains("from 0.1 to 1000"), "{v}: {e}");
        }
        let text = GOOD.replace("[bot]", "max_send_rate = \"fast\"\n\n[bot]");
        assert!(problem(&text).contains("max_send_rate"));
    }

    #[test]
    fn distributions_default_to_group_and_are_checked() {
        use crate::stats::Distributions;
        let c = parse(GOOD).expect("valid");
        assert_eq!(c.privacy.distributions, Distributions::Group);
        for (v, want) in [
            ("group", Distributions::Group),
            ("cell", Distributions::Cell),
        ] {
            let text = format!("{GOOD}\n[privacy]\ndistributions = \"{v}\"\n");
            assert_eq!(parse(&text).expect("valid").privacy.distributions, want);
        }
        let text = format!("{GOOD}\n[privacy]\ndistributions = \"cells\"\n");
        let problems = match parse(&text) {
            Ok(_) => panic!("`cells` accepted"),
            Err(e) => e.problems,
        };
        let p = problems
            .iter()
            .find(|p| p.key.as_deref() == Some("privacy.distributions"))
            .unwrap_or_else(|| panic!("no problem named privacy.distributions: {problems:?}"));
        assert!(p.message.contains("\"group\""), "{}", p.message);
        assert!(p.position.is_some());
    }

    #[test]
    fn device_trust_defaults_to_cross_signed_and_is_checked() {
        let c = parse(GOOD).expect("valid");
        assert_eq!(c.matrix.device_trust, DeviceTrust::CrossSigned);
        for (v, want) in [
            ("cross-signed", DeviceTrust::CrossSigned),
            ("any", DeviceTrust::Any),
        ] {
            let text = GOOD.replace("[bot]", &format!("device_trust = \"{v}\"\n\n[bot]"));
            let c = parse(&text).expect("valid");
            assert_eq!(c.matrix.device_trust, want);
            assert_eq!(want.as_str(), v);
        }
        let e = problem(&GOOD.replace("[bot]", "device_trust = \"verified\"\n\n[bot]"));
        assert!(
            e.contains("key `matrix.device_trust`: `verified` is not a device trust level"),
            "{e}"
        );
        assert!(e.contains(":6:"), "{e}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = parse(GOOD).expect("valid");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("a long passphrase"));
        assert!(dbg.contains("<redacted>"));
    }

    fn problem(text: &str) -> String {
        parse(text).expect_err("invalid").to_string()
    }

    #[test]
    fn unknown_key_is_named_with_its_table() {
        let e = problem(&format!("{GOOD}\n[store]\npassfrase_file = \"x\"\n"));
        assert!(e.contains("key `store.passfrase_file`"), "{e}");
        assert!(e.contains(":11:1:"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = problem(&GOOD.replace("\"@admin:localhost\"", "5"));
        assert!(e.contains("bot.admins"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn malformed_matrix_id_is_named() {
        let e = problem(&GOOD.replace("@admin:localhost", "admin"));
        assert!(
            e.contains("key `bot.admins`: malformed Matrix id `admin`"),
            "{e}"
        );
        assert!(e.contains(":7:"), "{e}");
    }

    #[test]
    fn unknown_time_zone_is_named() {
        let e = problem(&format!("{GOOD}timezone = \"Europe/Bonn\"\n"));
        assert!(
            e.contains("key `bot.timezone`: unknown time zone `Europe/Bonn`"),
            "{e}"
        );
    }

    #[test]
    fn missing_keys_are_named() {
        let e = problem("[bot]\nadmins = []\n");
        assert!(e.contains("key `matrix`"), "{e}");
        assert!(e.contains("key `bot.admins`"), "{e}");
    }

    #[test]
    fn unreadable_secret_file_is_named() {
        let text = GOOD.replace("[bot]", "password_file = \"/nonexistent/pw\"\n\n[bot]");
        let e = Config::parse(
            Path::new("c.toml"),
            &text,
            &SecretOverrides {
                password: None,
                access_token: None,
                passphrase: Some(Secret::new("x")),
            },
        )
        .expect_err("invalid")
        .to_string();
        assert!(
            e.contains("key `matrix.password_file`: cannot read the secret file"),
            "{e}"
        );
    }

    /// Makes a test's secret file the bot's alone, as the loader requires.
    fn private(p: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    fn passphrase_only() -> SecretOverrides {
        SecretOverrides {
            password: None,
            access_token: None,
            passphrase: Some(Secret::new("a long passphrase")),
        }
    }

    #[test]
    fn an_access_token_file_logs_in_instead_of_a_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("token");
        std::fs::write(&token, "syt_abc\n").expect("write");
        private(&token);
        let text = GOOD.replace(
            "[bot]",
            &format!("access_token_file = \"{}\"\n\n[bot]", token.display()),
        );
        let c = Config::parse(&dir.path().join("c.toml"), &text, &passphrase_only())
            .expect("a token alone is a login");
        assert_eq!(
            c.matrix.access_token.as_ref().map(Secret::expose),
            Some("syt_abc")
        );
        assert!(c.matrix.password.is_none());
    }

    #[test]
    fn a_password_and_an_access_token_together_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["token", "pw"] {
            std::fs::write(dir.path().join(name), "x").expect("write");
            private(&dir.path().join(name));
        }
        let text = GOOD.replace(
            "[bot]",
            "password_file = \"pw\"\naccess_token_file = \"token\"\n\n[bot]",
        );
        let e = Config::parse(&dir.path().join("c.toml"), &text, &passphrase_only())
            .expect_err("two logins")
            .to_string();
        assert!(
            e.contains("key `matrix.access_token_file`: both a password and an access token"),
            "{e}"
        );
    }

    /// Regression (issue 18): with the password file removed after the first start, `validate`
    /// failed, so the unit's `ExecStartPre=validate` would have blocked every restart.
    #[test]
    fn a_removed_login_secret_is_only_a_warning_once_a_session_is_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (key, file) in [("password_file", "pw"), ("access_token_file", "token")] {
            let text = GOOD.replace("[bot]", &format!("{key} = \"{file}\"\n\n[bot]"));
            let config = dir.path().join("c.toml");
            // No session yet: the first start needs the secret, so a missing file is an error.
            let e = Config::parse(&config, &text, &passphrase_only())
                .expect_err("first start needs it")
                .to_string();
            assert!(
                e.contains(&format!("key `matrix.{key}`: cannot read")),
                "{e}"
            );
            std::fs::create_dir_all(dir.path().join("store")).expect("mkdir");
            std::fs::write(dir.path().join("store/session.json"), "{}").expect("write");
            let c = Config::parse(&config, &text, &passphrase_only()).expect("session saved");
            assert!(c.matrix.password.is_none() && c.matrix.access_token.is_none());
            assert!(
                c.warnings
                    .iter()
                    .any(|w| w.starts_with(&format!("matrix.{key}: the secret file"))
                        && w.contains("saved session")),
                "{:?}",
                c.warnings
            );
            std::fs::remove_file(dir.path().join("store/session.json")).expect("rm");
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ä\nbc", 4), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}

#[cfg(test)]
#[path = "config_corpus.rs"]
mod corpus;
