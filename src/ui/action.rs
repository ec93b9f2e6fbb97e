//! What a key can ask the app to do. Keymap files name these in snake_case
//! (`run = "select_next"`); the help overlay lists them with the keymap's descriptions.

use serde::{Deserialize, Serialize};

/// An intent, produced by the keymap from a key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave fleettop.
    Quit,
    /// Show the next pane.
    NextPane,
    /// Show the previous pane.
    PrevPane,
    /// Show the Fleet pane.
    ShowFleet,
    /// Show the Denials pane.
    ShowDenials,
    /// Show the GPU pane.
    ShowGpu,
    /// Show the Pipelines pane.
    ShowPipelines,
    /// Show the Exceptions pane.
    ShowExceptions,
    /// Show the Cost pane.
    ShowCost,
    /// Next view within a pane (GPU: queues → workloads → pending → nodes; Denials: one row
    /// per denial → by policy → namespace → cluster → engine; Cost: the grouping).
    NextView,
    /// Previous view within a pane.
    PrevView,
    /// Move the selection down one row.
    SelectNext,
    /// Move the selection up one row.
    SelectPrev,
    /// Move the selection down one page.
    PageDown,
    /// Move the selection up one page.
    PageUp,
    /// Select the first row.
    SelectFirst,
    /// Select the last row.
    SelectLast,
    /// Open the detail view of the selected row.
    OpenDetail,
    /// Show what the selected row links to: on the Exceptions pane, the Denials pane narrowed
    /// to the denials linked to the selected exception (`esc` there widens it again); on a
    /// waiting GPU workload or pod, what blocks it (a workload holding the quota, a node).
    ShowLinked,
    /// Close the open popup, or clear the filter.
    Close,
    /// Start typing a fuzzy filter.
    StartFilter,
    /// Sort by the next column.
    SortNext,
    /// Reverse the sort order.
    SortReverse,
    /// Show or hide the help overlay.
    ToggleHelp,
    /// Copy the selected row (or the open detail) to the clipboard via OSC 52.
    Copy,
    /// Replay: pause or resume.
    ReplayTogglePause,
    /// Replay: play faster.
    ReplayFaster,
    /// Replay: play slower.
    ReplaySlower,
    /// Replay: seek forward (10 s of recording time).
    ReplaySeekForward,
    /// Replay: seek backward (10 s of recording time).
    ReplaySeekBack,
    /// Replay: seek forward one minute.
    ReplaySeekForwardLong,
    /// Replay: seek backward one minute.
    ReplaySeekBackLong,
    /// Replay: jump to the start of the recording.
    ReplaySeekStart,
    /// Replay: jump to the end of the recording.
    ReplaySeekEnd,
    /// Replay: type a time to jump to (`14:12`, `+5m`, a timestamp).
    ReplaySeekTo,
}

impl Action {
    /// Every action, in help-overlay order.
    pub const ALL: [Action; 34] = [
        Action::Quit,
        Action::ToggleHelp,
        Action::NextPane,
        Action::PrevPane,
        Action::ShowFleet,
        Action::ShowDenials,
        Action::ShowGpu,
        Action::ShowPipelines,
        Action::ShowExceptions,
        Action::ShowCost,
        Action::NextView,
        Action::PrevView,
        Action::SelectNext,
        Action::SelectPrev,
        Action::PageDown,
        Action::PageUp,
        Action::SelectFirst,
        Action::SelectLast,
        Action::OpenDetail,
        Action::Close,
        Action::StartFilter,
        Action::SortNext,
        Action::SortReverse,
        Action::Copy,
        Action::ReplayTogglePause,
        Action::ReplayFaster,
        Action::ReplaySlower,
        Action::ReplaySeekForward,
        Action::ReplaySeekBack,
        Action::ReplaySeekForwardLong,
        Action::ReplaySeekBackLong,
        Action::ReplaySeekStart,
        Action::ReplaySeekEnd,
        Action::ReplaySeekTo,
    ];
}
