#![doc = include_str!("../README.md")]

/// The five memory levels, from the run's own working state to the org's standing preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
