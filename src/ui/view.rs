//! Per-view state that is not fleet data: which pane, which row, which filter, which popup.

use std::collections::BTreeMap;

use crate::state::RecordId;
use crate::ui::panes::PaneId;
use crate::ui::panes::denial_groups::GroupBy;
use crate::ui::panes::gpu::GpuView;

/// Every table in the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableId {
    /// Fleet pane.
    Fleet,
    /// Denials pane.
    Denials,
    /// Denials pane grouped by policy.
    DenialsByPolicy,
    /// Denials pane grouped by namespace.
    DenialsByNamespace,
    /// Denials pane grouped by cluster.
    DenialsByCluster,
    /// Denials pane grouped by engine.
    DenialsByEngine,
    /// GPU pane, queues view.
    GpuQueues,
    /// GPU pane, workloads view.
    GpuWorkloads,
    /// GPU pane, pending pods view.
    GpuPending,
    /// GPU pane, nodes view.
    GpuNodes,
    /// GPU pane, recent evictions and preemptions.
    GpuEvictions,
    /// Pipelines pane.
    Pipelines,
    /// Exceptions pane.
    Exceptions,
}

impl TableId {
    /// Every table.
    pub const ALL: [TableId; 13] = [
        TableId::Fleet,
        TableId::Denials,
        TableId::DenialsByPolicy,
        TableId::DenialsByNamespace,
        TableId::DenialsByCluster,
        TableId::DenialsByEngine,
        TableId::GpuQueues,
        TableId::GpuWorkloads,
        TableId::GpuPending,
        TableId::GpuNodes,
        TableId::GpuEvictions,
        TableId::Pipelines,
        TableId::Exceptions,
    ];
}

/// What a table's rows were last built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltFrom {
    /// State version.
    pub version: u64,
    /// Filter text.
    pub filter: String,
    /// Sort column and direction.
    pub sort: (usize, bool),
    /// The exception the rows were narrowed to, if any.
    pub linked_to: Option<RecordId>,
}

/// Scroll, selection, sort and filter of one table.
#[derive(Debug, Clone, Default)]
pub struct TableState {
    /// Fuzzy filter text.
    pub filter: String,
    /// User-chosen sort (column, descending); `None` = the table's default.
    pub sort: Option<(usize, bool)>,
    /// Selected row index into `rows`.
    pub selected: usize,
    /// First visible row.
    pub offset: usize,
    /// Row ids, filtered and sorted.
    pub rows: Vec<RecordId>,
    /// The selected row's id, so the selection follows the row when rows move.
    pub selected_id: Option<RecordId>,
    /// What `rows` was built from.
    pub built: Option<BuiltFrom>,
}

/// An overlay on top of the panes.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    /// The help overlay.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// A record's detail view.
    Detail {
        /// The table it came from.
        table: TableId,
        /// The record.
        id: RecordId,
        /// Lines scrolled.
        scroll: u16,
    },
}

/// All view state.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    /// The visible pane.
    pub pane: PaneId,
    /// The GPU pane's sub-view.
    pub gpu_view: GpuView,
    /// How the Denials pane groups its rows (`]`/`[` cycle).
    pub denial_group: GroupBy,
    /// The exception whose linked denials the Denials table is narrowed to
    /// ([`crate::ui::action::Action::ShowLinked`]), until `esc`.
    pub denials_linked_to: Option<RecordId>,
    /// Per-table state.
    pub tables: BTreeMap<TableId, TableState>,
    /// Open popup.
    pub popup: Option<Popup>,
    /// True while the user types a filter.
    pub filtering: bool,
    /// The time being typed after `replay_seek_to`, while the prompt is open.
    pub seek_input: Option<String>,
    /// How the Cost pane groups usage (`]`/`[` cycle).
    pub cost_by: crate::analytics::By,
    /// Lines the Cost pane is scrolled down.
    pub cost_scroll: u16,
}

impl ViewState {
    /// The table the visible pane shows, if any.
    pub fn active_table(&self) -> Option<TableId> {
        match self.pane {
            PaneId::Fleet => Some(TableId::Fleet),
            PaneId::Denials => Some(match self.denial_group {
                GroupBy::None => TableId::Denials,
                GroupBy::Policy => TableId::DenialsByPolicy,
                GroupBy::Namespace => TableId::DenialsByNamespace,
                GroupBy::Cluster => TableId::DenialsByCluster,
                GroupBy::Engine => TableId::DenialsByEngine,
            }),
            PaneId::Gpu => Some(match self.gpu_view {
                GpuView::Queues => TableId::GpuQueues,
                GpuView::Workloads => TableId::GpuWorkloads,
                GpuView::Pending => TableId::GpuPending,
                GpuView::Nodes => TableId::GpuNodes,
                GpuView::Evictions => TableId::GpuEvictions,
            }),
            PaneId::Pipelines => Some(TableId::Pipelines),
            PaneId::Exceptions => Some(TableId::Exceptions),
            PaneId::Cost => None,
        }
    }

    /// State of a table (created on first use).
    pub fn table_mut(&mut self, id: TableId) -> &mut TableState {
        self.tables.entry(id).or_default()
    }

    /// State of a table, if it was ever shown.
    pub fn table(&self, id: TableId) -> Option<&TableState> {
        self.tables.get(&id)
    }
}
