//! Reading what a newer fleettop wrote: observations and keyframe records of kinds this build
//! does not know (a `Change` variant, a record type or a table added by a later 1.x) are
//! skipped and counted instead of ending the recording there.
//!
//! Normal replay pays nothing for this: a payload is first decoded whole into the known types,
//! and only when that fails is it decoded element by element (as `serde_json::Value`), so that
//! the elements of unknown kinds can be told apart from damaged ones. A known element that does
//! not decode is still a damaged frame.

use serde::Deserialize;
use serde_json::Value;

use crate::model::{Change, ClusterId, Observation, RecordKind, SourceKind, SourceState};
use crate::state::Keyframe;

/// What reading skipped because this build does not know its kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Observations skipped (each counted once).
    pub observations: u64,
    /// Records and open relists of unknown tables left out of the keyframe that held most.
    pub keyframe_records: u64,
}

impl Skipped {
    /// True when nothing was skipped.
    pub fn is_empty(&self) -> bool {
        *self == Skipped::default()
    }
}

/// The observations of one frame payload: those this build knows, and what the frame held.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The observations this build knows, in file order.
    pub kept: Vec<Observation>,
    /// How many the frame held, skipped ones included.
    pub total: usize,
    /// The `at` of the frame's first and last observation, skipped ones included.
    pub times: Option<(jiff::Timestamp, jiff::Timestamp)>,
}

/// What every observation has, whatever its change: when and where.
#[derive(Deserialize)]
struct Head {
    at: jiff::Timestamp,
    #[allow(dead_code)]
    cluster: ClusterId,
}

/// Decodes an observations payload, skipping observations of kinds this build does not know.
pub(crate) fn observations(json: &[u8]) -> Result<Batch, String> {
    let fast = match serde_json::from_slice::<Vec<Observation>>(json) {
        Ok(kept) => {
            let times = kept.first().zip(kept.last()).map(|(a, b)| (a.at, b.at));
            return Ok(Batch { total: kept.len(), times, kept });
        }
        Err(e) => e,
    };
    // Element by element, each dropped once looked at: a huge payload never becomes one
    // huge `Value` tree.
    let mut kept = Vec::new();
    let mut total = 0;
    let mut times: Option<(jiff::Timestamp, jiff::Timestamp)> = None;
    let mut failure: Option<String> = None;
    let result = each_element(
        json,
        |i, v| {
            let head = Head::deserialize(&v)
                .map_err(|e| format!("observations JSON is invalid: observation {i}: {e}"))?;
            times = Some(times.map_or((head.at, head.at), |(first, _)| (first, head.at)));
            total += 1;
            if !unknown_observation(&v) {
                kept.push(
                    Observation::deserialize(v)
                        .map_err(|e| format!("observations JSON is invalid: observation {i}: {e}"))?,
                );
            }
            Ok(())
        },
        &mut failure,
    );
    match (result, failure) {
        (Ok(()), _) => Ok(Batch { kept, total, times }),
        (Err(_), Some(reason)) => Err(reason),
        (Err(_), None) => Err(format!("observations JSON is invalid: {fast}")),
    }
}

/// Calls `f` with each element of the JSON array `json`, in order, one at a time. When `f`
/// fails, its reason goes to `failure` and the walk stops with an error.
fn each_element(
    json: &[u8],
    f: impl FnMut(usize, Value) -> Result<(), String>,
    failure: &mut Option<String>,
) -> Result<(), serde_json::Error> {
    use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};

    struct Each<'a, F> {
        f: F,
        failure: &'a mut Option<String>,
    }

    impl<'de, F: FnMut(usize, Value) -> Result<(), String>> Visitor<'de> for Each<'_, F> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of observations")
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(v) = seq.next_element::<Value>()? {
                if let Err(reason) = (self.f)(i, v) {
                    *self.failure = Some(reason);
                    return Err(A::Error::custom("element rejected"));
                }
                i += 1;
            }
            Ok(())
        }
    }

    let mut de = serde_json::Deserializer::from_slice(json);
    (&mut de).deserialize_seq(Each { f, failure })?;
    de.end()
}

/// Decodes a keyframe payload, leaving out records and relists of tables this build does not
/// know; returns how many it left out.
pub(crate) fn keyframe(json: &[u8]) -> Result<(Keyframe, u64), String> {
    let fast = match serde_json::from_slice::<Keyframe>(json) {
        Ok(frame) => return Ok((frame, 0)),
        Err(e) => e,
    };
    let invalid = || format!("keyframe JSON is invalid: {fast}");
    let mut v: Value = serde_json::from_slice(json).map_err(|_| invalid())?;
    let mut left_out = 0;
    // `records`: [cluster, {"record": kind, …}]; `relists`: [cluster, kind, keys].
    for (field, kind_of) in [("records", record_tag as fn(&Value) -> &Value), ("relists", |e| &e[1])] {
        if let Some(list) = v.get_mut(field).and_then(Value::as_array_mut) {
            let before = list.len();
            list.retain(|e| !unknown_kind(kind_of(e)));
            left_out += (before - list.len()) as u64;
        }
    }
    // `clusters[].sources`: {source: state}; sources or states of later versions go.
    if let Some(clusters) = v.get_mut("clusters").and_then(Value::as_array_mut) {
        for c in clusters {
            if let Some(sources) = c.get_mut("sources").and_then(Value::as_object_mut) {
                let before = sources.len();
                sources.retain(|k, s| !unknown_source(&Value::String(k.clone())) && !unknown_state(s));
                left_out += (before - sources.len()) as u64;
            }
        }
    }
    if left_out == 0 {
        return Err(invalid());
    }
    let frame = Keyframe::deserialize(&v).map_err(|e| format!("keyframe JSON is invalid: {e}"))?;
    Ok((frame, left_out))
}

fn record_tag(entry: &Value) -> &Value {
    &entry[1]["record"]
}

/// True when `v` is an observation whose change, record kind, source or source state this
/// build does not know.
fn unknown_observation(v: &Value) -> bool {
    let change = &v["change"];
    match change["op"].as_str() {
        Some("upsert") => unknown_kind(&change["record"]["record"]),
        Some("delete" | "sync_start" | "sync_end") => unknown_kind(&change["kind"]),
        Some("source") => unknown_source(&change["source"]) || unknown_state(&change["state"]),
        Some(op) => !Change::OPS.contains(&op),
        None => false,
    }
}

/// True when `v` names a source this build does not know (a name only, as for tables).
fn unknown_source(v: &Value) -> bool {
    v.is_string() && SourceKind::deserialize(v).is_err()
}

/// True when `v` is a source state whose `state` tag this build does not know (format 1.3+).
fn unknown_state(v: &Value) -> bool {
    v["state"].as_str().is_some_and(|tag| !SourceState::TAGS.contains(&tag))
}

/// True when `v` names a table (record type) this build does not know. Only a name counts:
/// a missing or malformed one is damage, not novelty.
fn unknown_kind(v: &Value) -> bool {
    v.is_string() && RecordKind::deserialize(v).is_err()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;
    use crate::model::ClusterUpdate;

    fn obs(at: &str, change: Value) -> Value {
        json!({"at": at, "cluster": "c", "change": change})
    }

    #[test]
    fn ops_list_every_change_variant() {
        let changes = [
            Change::Cluster(ClusterUpdate::default()),
            Change::Source {
                source: crate::model::SourceKind::Events,
                state: crate::model::SourceState::Live,
            },
            Change::Delete { kind: RecordKind::Denial, key: "k".into() },
            Change::SyncStart { kind: RecordKind::Denial },
            Change::SyncEnd { kind: RecordKind::Denial },
        ];
        let mut ops: Vec<String> = changes
            .iter()
            .map(|c| serde_json::to_value(c).unwrap()["op"].as_str().unwrap().to_string())
            .collect();
        ops.push("upsert".into());
        ops.sort();
        let mut want: Vec<&str> = Change::OPS.to_vec();
        want.sort();
        assert_eq!(ops, want);
    }

    #[test]
    fn unknown_changes_and_kinds_are_skipped_the_rest_kept() {
        let json = serde_json::to_vec(&json!([
            obs("2026-11-27T10:00:00Z", json!({"op": "cluster"})),
            obs("2026-11-27T10:00:01Z", json!({"op": "teleport", "to": "mars"})),
            obs("2026-11-27T10:00:02Z", json!({"op": "upsert", "record": {"record": "hologram", "x": 1}})),
            obs("2026-11-27T10:00:03Z", json!({"op": "sync_start", "kind": "hologram"})),
            obs("2026-11-27T10:00:04Z", json!({"op": "sync_end", "kind": "denial"})),
            obs("2026-11-27T10:00:05Z", json!({"op": "delete", "kind": "hologram", "key": "h"})),
        ]))
        .unwrap();
        let b = observations(&json).unwrap();
        assert_eq!((b.kept.len(), b.total), (2, 6));
        assert_eq!(b.kept[1].change, Change::SyncEnd { kind: RecordKind::Denial });
        let (first, last) = b.times.unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2026-11-27T10:00:00Z".into(), "2026-11-27T10:00:05Z".into())
        );
    }

    #[test]
    fn known_but_damaged_observations_are_still_damage() {
        for bad in [
            obs("2026-11-27T10:00:00Z", json!({"op": "upsert", "record": {"record": "denial", "id": 3}})),
            obs("2026-11-27T10:00:00Z", json!({"op": "upsert", "record": {"no": "tag"}})),
            obs("2026-11-27T10:00:00Z", json!({"op": 7})),
            obs("2026-11-27T10:00:00Z", json!({"op": "delete", "kind": 7, "key": "k"})),
            json!({"cluster": "c", "change": {"op": "teleport"}}),
        ] {
            let json = serde_json::to_vec(&json!([bad])).unwrap();
            let e = observations(&json).unwrap_err();
            assert!(e.starts_with("observations JSON is invalid"), "{bad}: {e}");
        }
        assert!(observations(b"{not json").is_err());
    }

    #[test]
    fn keyframes_leave_out_unknown_tables_only() {
        let state = crate::state::FleetState::new("2026-11-27T10:00:00Z".parse().unwrap());
        let mut v = serde_json::to_value(state.keyframe()).unwrap();
        v["records"] = json!([["c", {"record": "hologram", "x": 1}]]);
        v["relists"] = json!([["c", "hologram", ["h"]], ["c", "denial", ["d"]]]);
        let (frame, left_out) = keyframe(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!((frame.records.len(), frame.relists.len(), left_out), (0, 1, 2));
        v["records"] = json!([["c", {"record": "denial", "id": 3}]]);
        assert!(keyframe(&serde_json::to_vec(&v).unwrap()).is_err(), "a damaged known record");
        let known = serde_json::to_vec(&state.keyframe()).unwrap();
        assert_eq!(keyframe(&known).unwrap(), (state.keyframe(), 0));
    }

    #[test]
    fn state_tags_list_every_source_state() {
        let states = [
            SourceState::Syncing,
            SourceState::Live,
            SourceState::Forbidden { message: String::new() },
            SourceState::NotInstalled,
            SourceState::Error { message: String::new() },
            SourceState::Unavailable { message: String::new() },
            SourceState::Degraded { message: String::new() },
            SourceState::Stale { since: jiff::Timestamp::UNIX_EPOCH },
            SourceState::Slow { message: String::new() },
        ];
        let mut tags: Vec<String> = states
            .iter()
            .map(|s| serde_json::to_value(s).unwrap()["state"].as_str().unwrap().to_string())
            .collect();
        tags.sort();
        let mut want: Vec<&str> = SourceState::TAGS.to_vec();
        want.sort();
        assert_eq!(tags, want);
    }

    #[test]
    fn sources_and_states_of_later_versions_are_skipped() {
        let json = serde_json::to_vec(&json!([
            obs(
                "2026-11-27T10:00:00Z",
                json!({"op": "source", "source": "dcgm", "state": {"state": "slow", "message": "m"}})
            ),
            obs(
                "2026-11-27T10:00:01Z",
                json!({"op": "source", "source": "dcgm", "state": {"state": "asleep", "for": 3}})
            ),
            obs(
                "2026-11-27T10:00:02Z",
                json!({"op": "source", "source": "quantum", "state": {"state": "live"}})
            ),
        ]))
        .unwrap();
        let b = observations(&json).unwrap();
        assert_eq!((b.kept.len(), b.total), (1, 3));
        let state = crate::state::FleetState::with_clusters(
            "2026-11-27T10:00:00Z".parse().unwrap(),
            &[ClusterId::new("c")],
        );
        let mut v = serde_json::to_value(state.keyframe()).unwrap();
        v["clusters"][0]["sources"] =
            json!({"dcgm": {"state": "asleep"}, "quantum": {"state": "live"}, "events": {"state": "live"}});
        let (frame, left_out) = keyframe(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(left_out, 2);
        assert_eq!(frame.clusters[0].sources.len(), 1);
    }

    #[test]
    fn a_huge_array_of_garbage_fails_at_its_first_element() {
        // The fallback walks elements one at a time: 16 MiB of `0,` is rejected at element 0
        // instead of becoming a 8-million-element tree first.
        let mut json = b"[".to_vec();
        json.extend(std::iter::repeat_n(&b"0,"[..], 8 << 20).flatten());
        json.extend(b"0]");
        let e = observations(&json).unwrap_err();
        assert!(e.contains("observation 0"), "{e}");
    }
}
