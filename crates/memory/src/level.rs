use serde::{Deserialize, Serialize};

/// The five memory levels, from the run's own working state to the org's standing preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Working state of one run, checkpointed with it.
    Session,
    /// Summaries of past tasks of an agent in an org.
    Task,
    /// Named knowledge namespaces of an org (e.g. `cost_anomalies`).
    Knowledge,
    /// Past episodes of an agent in an org, for experience replay.
    Episode,
    /// The org's preferences, read by key.
    Preferences,
}

impl Level {
    /// The level's number in DESIGN.md (1 session … 5 preferences), as stores keep it.
    #[must_use]
    pub const fn number(self) -> i64 {
        match self {
            Self::Session => 1,
            Self::Task => 2,
            Self::Knowledge => 3,
            Self::Episode => 4,
            Self::Preferences => 5,
        }
    }

    /// The level's name as manifests and JSON spell it (`knowledge`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Task => "task",
            Self::Knowledge => "knowledge",
            Self::Episode => "episode",
            Self::Preferences => "preferences",
        }
    }

    /// The level named so, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Session,
            Self::Task,
            Self::Knowledge,
            Self::Episode,
            Self::Preferences,
        ]
        .into_iter()
        .find(|level| level.name() == name)
    }

    /// The level with that number, if any.
    #[must_use]
    pub const fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(Self::Session),
            2 => Some(Self::Task),
            3 => Some(Self::Knowledge),
            4 => Some(Self::Episode),
            5 => Some(Self::Preferences),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn numbers_round_trip_and_unknown_numbers_are_none() {
        for level in [
            Level::Session,
            Level::Task,
            Level::Knowledge,
            Level::Episode,
            Level::Preferences,
        ] {
            assert_eq!(Level::from_number(level.number()), Some(level));
            assert_eq!(Level::from_name(level.name()), Some(level));
            assert_eq!(
                serde_json::to_value(level).unwrap(),
                serde_json::json!(level.name())
            );
        }
        assert_eq!(Level::from_number(0), None);
        assert_eq!(Level::from_number(6), None);
        assert_eq!(Level::from_name("Knowledge"), None);
    }
}
