//! Every threshold, window and mapping in one place: [`Settings`], loaded from
//! an optional TOML file (unknown keys are errors) and resolved with the
//! command-line overrides. The library takes nothing else.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Analysis settings. Field docs are the README's config reference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Benjamini-Hochberg level over each day's actor-days: an actor-day is
    /// flagged when its q-value is at most this.
    pub alert_q: f64,
    /// q-value at or below which a flagged actor-day is `medium`.
    pub medium_q: f64,
    /// q-value at or below which a flagged actor-day is `high`.
    pub high_q: f64,
    /// q-value at or below which a flagged actor-day is `critical`.
    pub critical_q: f64,
    /// A detector is listed among an alert's reasons when its p-value is at most this.
    pub reason_p: f64,
    /// An actor-day whose combined p-value is at most this is judged anomalous:
    /// it is kept out of the actor's baseline and extends the anomalous run.
    pub anomalous_p: f64,
    /// Trailing window of the personal baseline, in days.
    pub window_days: u32,
    /// Trailing window of export history, in days (exports are rarer than views).
    pub export_window_days: u32,
    /// Active days of personal history an actor needs before a day can be judged
    /// anomalous on their own evidence (before that, every day is learned).
    pub min_history_days: u32,
    /// A team with fewer members than this is not a peer group; its members
    /// are compared with their `actor_kind` instead.
    pub min_team_size: usize,
    /// Prior strength (in pseudo-days) of the peer estimate of a count's day-to-day spread.
    pub prior_days: f64,
    /// Prior strength (in pseudo-days) of day rates: how often an actor
    /// exports, how often a day brings a new client, IP, resource or field.
    pub rate_prior_days: f64,
    /// Prior rate of days bringing a new item of a kind.
    pub novelty_prior_rate: f64,
    /// Learned weekdays in the window a member needs to speak for a peer group.
    pub peer_min_days: usize,
    /// Established members a peer group needs to have an opinion.
    pub peer_min_members: usize,
    /// Day-level concentration of the off-hours share (lower: days vary more).
    pub off_hours_concentration: f64,
    /// Smallest relative day-to-day change of a count treated as noise
    /// (a log-scale floor: 0.10 means ±10% is never evidence).
    pub count_scale_floor: f64,
    /// Prior strength (in events) of the peer share in share detectors.
    pub share_prior_events: f64,
    /// An hour holding less than this share of an actor's usual activity is off-hours.
    pub off_hours_share: f64,
    /// Fields whose reading is sensitive (case-insensitive).
    pub sensitive_fields: Vec<String>,
    /// Resources any read of which is sensitive (case-insensitive).
    pub sensitive_resources: Vec<String>,
    /// Source column name -> contract column name.
    pub columns: BTreeMap<String, String>,
    /// Per contract column (`action`, `actor_kind`, `status`): source value -> contract value.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// IANA time zone for day bucketing and hours (`None` = UTC).
    pub timezone: Option<String>,
    /// Minutes before a ticket's opening and after its closing during which
    /// it still covers its customer (work often starts just before the
    /// ticket is filed and ends just after it is closed).
    pub ticket_grace_minutes: i64,
    /// The slow-drip CUSUM's reference value `k`, in standard deviations of
    /// the daily evidence: half the smallest sustained shift worth catching.
    pub drip_reference: f64,
    /// The slow-drip CUSUM's in-control average run length: a benign actor
    /// crosses the alarm threshold about once in this many active days. The
    /// threshold follows from it (Siegmund's approximation).
    pub drip_run_length: f64,
    /// With `--state`: days of raw-event keys kept so late logs for recent
    /// days are merged and de-duplicated; input for older days is an error.
    pub late_days: u32,
    /// With `--state`: days of history kept (older actor-days are dropped).
    pub retain_days: u32,
    /// Suppressions of known, human-approved changes (`[[allow]]` tables).
    pub allow: Vec<Allow>,
    /// First day scored and written (inclusive).
    pub from: Option<NaiveDate>,
    /// Last day scored and written (inclusive).
    pub to: Option<NaiveDate>,
}

/// One `[[allow]]` entry: silences a detector's reason for an actor (for
/// one field or client only, when given) until an optional expiry day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// The actor, exactly as in the logs.
    pub actor: String,
    /// The detector whose reason is silenced (a name from `reasons`).
    pub detector: String,
    /// Only reasons naming this field (case-insensitive).
    #[serde(default)]
    pub field: Option<String>,
    /// Only reasons naming this client.
    #[serde(default)]
    pub client: Option<String>,
    /// Last day the entry applies (inclusive); later days are judged again.
    /// A TOML date (`2025-06-30`) or a string.
    #[serde(default, deserialize_with = "toml_day")]
    pub expires: Option<NaiveDate>,
    /// Why the change is approved (required: someone must own it).
    pub reason: String,
}

/// Reads an optional day written as a TOML date or as a `YYYY-MM-DD` string.
fn toml_day<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Day {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Option::<Day>::deserialize(d)? {
        None => return Ok(None),
        Some(Day::Toml(t)) => t.to_string(),
        Some(Day::Text(t)) => t,
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a day (YYYY-MM-DD)")))
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            alert_q: 0.05,
            medium_q: 0.01,
            high_q: 1e-4,
            critical_q: 1e-7,
            reason_p: 0.01,
            anomalous_p: 1e-3,
            window_days: 28,
            export_window_days: 90,
            min_history_days: 7,
            min_team_size: 5,
            prior_days: 6.0,
            rate_prior_days: 10.0,
            novelty_prior_rate: 0.1,
            peer_min_days: 5,
            peer_min_members: 3,
            off_hours_concentration: 20.0,
            count_scale_floor: 0.10,
            share_prior_events: 50.0,
            off_hours_share: 0.01,
            sensitive_fields: [
                "phone",
                "address",
                "dob",
                "card_number",
                "card_expiry",
                "cvv",
                "iban",
                "ssn",
                "password",
            ]
            .map(String::from)
            .to_vec(),
            sensitive_resources: vec!["payments".into()],
            columns: BTreeMap::new(),
            values: BTreeMap::new(),
            timezone: None,
            ticket_grace_minutes: 60,
            drip_reference: 1.0,
            drip_run_length: 5000.0,
            late_days: 7,
            retain_days: 400,
            allow: Vec::new(),
            from: None,
            to: None,
        }
    }
}

impl Settings {
    /// Reads a TOML config file; unknown keys and bad values are usage errors.
    pub fn from_file(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read config `{}`: {e}", path.display())))?;
        let settings: Settings = toml::from_str(&text)
            .map_err(|e| Error::Usage(format!("invalid config `{}`: {e}", path.display())))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks ranges and names; every problem is a usage error (exit 2).
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f64| {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(Error::Usage(format!(
                    "`{name}` must be in (0, 1], got `{v}`"
                )))
            }
        };
        unit("alert_q", self.alert_q)?;
        unit("medium_q", self.medium_q)?;
        unit("high_q", self.high_q)?;
        unit("critical_q", self.critical_q)?;
        unit("reason_p", self.reason_p)?;
        unit("anomalous_p", self.anomalous_p)?;
        unit("off_hours_share", self.off_hours_share)?;
        unit("novelty_prior_rate", self.novelty_prior_rate)?;
        if self.rate_prior_days <= 0.0 || self.off_hours_concentration <= 0.0 {
            return Err(Error::Usage(
                "`rate_prior_days` and `off_hours_concentration` must be positive".into(),
            ));
        }
        if self.peer_min_members == 0 {
            return Err(Error::Usage("`peer_min_members` must be at least 1".into()));
        }
        if self.window_days < 2 || self.export_window_days < 2 {
            return Err(Error::Usage(
                "`window_days` and `export_window_days` must be at least 2".into(),
            ));
        }
        if self.prior_days <= 0.0 || self.share_prior_events <= 0.0 || self.count_scale_floor <= 0.0
        {
            return Err(Error::Usage(
                "`prior_days`, `share_prior_events` and `count_scale_floor` must be positive"
                    .into(),
            ));
        }
        for target in self.columns.values() {
            if !crate::schema::EVENT_COLUMNS.contains(&target.as_str())
                && !crate::schema::TICKET_COLUMNS.contains(&target.as_str())
            {
                return Err(Error::Usage(format!(
                    "`[columns]` maps onto `{target}`, which is not a contract column"
                )));
            }
        }
        for column in self.values.keys() {
            if ![
                crate::schema::ACTION,
                crate::schema::ACTOR_KIND,
                crate::schema::STATUS,
            ]
            .contains(&column.as_str())
            {
                return Err(Error::Usage(format!(
                    "`[values.{column}]`: only `action`, `actor_kind` and `status` take value maps"
                )));
            }
        }
        if self.ticket_grace_minutes < 0 {
            return Err(Error::Usage(
                "`ticket_grace_minutes` must not be negative".into(),
            ));
        }
        if self.drip_reference <= 0.0 || self.drip_run_length < 10.0 {
            return Err(Error::Usage(
                "`drip_reference` must be positive and `drip_run_length` at least 10".into(),
            ));
        }
        if self.retain_days < self.window_days.max(self.export_window_days) {
            return Err(Error::Usage(format!(
                "`retain_days` ({}) must cover the baseline windows ({} and {} days)",
                self.retain_days, self.window_days, self.export_window_days
            )));
        }
        let detectors = crate::detect::registry();
        for (i, a) in self.allow.iter().enumerate() {
            let entry = format!("`[[allow]]` entry {} (actor `{}`)", i + 1, a.actor);
            if !detectors.iter().any(|d| d.name() == a.detector) {
                let names: Vec<&str> = detectors.iter().map(|d| d.name()).collect();
                return Err(Error::Usage(format!(
                    "{entry}: unknown detector `{}` (one of: {})",
                    a.detector,
                    names.join(", ")
                )));
            }
            if a.reason.trim().is_empty() {
                return Err(Error::Usage(format!("{entry}: `reason` must say why")));
            }
        }
        if let Some(tz) = &self.timezone {
            tz.parse::<chrono_tz::Tz>().map_err(|_| {
                Error::Usage(format!(
                    "invalid time zone `{tz}` (expected an IANA name such as `Europe/Oslo`)"
                ))
            })?;
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(Error::Usage(format!(
                    "`--from {from}` is after `--to {to}`"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_key_is_a_usage_error() {
        let err = toml::from_str::<Settings>("alert_qq = 0.1").unwrap_err();
        assert!(err.to_string().contains("alert_qq"));
    }

    #[test]
    fn config_maps_columns_and_values() {
        let s: Settings = toml::from_str(
            "alert_q = 0.1\n[columns]\nuser_name = \"actor\"\n[values.action]\nSELECT = \"view\"\n",
        )
        .unwrap();
        assert_eq!(s.alert_q, 0.1);
        assert_eq!(s.columns["user_name"], "actor");
        assert_eq!(s.values["action"]["SELECT"], "view");
        s.validate().unwrap();
    }

    #[test]
    fn allow_entries_take_toml_dates_and_strings() {
        let s: Settings = toml::from_str(
            "[[allow]]\nactor = \"svc\"\ndetector = \"new_field\"\nfield = \"card_number\"\nexpires = 2025-06-30\nreason = \"release 4.2\"\n\n[[allow]]\nactor = \"a\"\ndetector = \"off_hours\"\nexpires = \"2025-01-31\"\nreason = \"on call\"\n",
        )
        .unwrap();
        s.validate().unwrap();
        assert_eq!(s.allow[0].expires, NaiveDate::from_ymd_opt(2025, 6, 30));
        assert_eq!(s.allow[1].expires, NaiveDate::from_ymd_opt(2025, 1, 31));
        let bad = toml::from_str::<Settings>(
            "[[allow]]\nactor = \"a\"\ndetector = \"off_hours\"\nexpires = \"soon\"\nreason = \"r\"\n",
        );
        assert!(bad.unwrap_err().to_string().contains("not a day"));
        let unreasoned = Settings {
            allow: vec![Allow {
                reason: " ".into(),
                ..s.allow[0].clone()
            }],
            ..Settings::default()
        };
        assert!(matches!(unreasoned.validate(), Err(Error::Usage(_))));
    }

    #[test]
    fn invalid_time_zone_is_rejected() {
        let s = Settings {
            timezone: Some("Mars/Olympus".into()),
            ..Settings::default()
        };
        assert!(matches!(s.validate(), Err(Error::Usage(_))));
    }
}
