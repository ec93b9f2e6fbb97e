//! Interned names: each distinct string once, rows hold small integer ids.

use std::collections::HashMap;

/// The id of an interned name.
pub type NameId = u32;

/// A table of distinct names.
#[derive(Debug, Clone, Default)]
pub struct Names {
    list: Vec<String>,
    index: HashMap<String, NameId>,
}

impl Names {
    /// The id of `name`, adding it when new.
    pub fn intern(&mut self, name: &str) -> NameId {
        if let Some(id) = self.index.get(name) {
            return *id;
        }
        let id = self.list.len() as NameId;
        self.list.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    /// The id of `name`, if it was interned.
    pub fn find(&self, name: &str) -> Option<NameId> {
        self.index.get(name).copied()
    }

    /// The text of an id; `?` for an id this table never gave out.
    pub fn get(&self, id: NameId) -> &str {
        self.list.get(id as usize).map_or("?", String::as_str)
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no name was interned.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_gets_the_same_id() {
        let mut n = Names::default();
        let a = n.intern("team-a");
        let b = n.intern("team-b");
        assert_ne!(a, b);
        assert_eq!(n.intern("team-a"), a);
        assert_eq!(n.get(b), "team-b");
        assert_eq!(n.find("team-b"), Some(b));
        assert_eq!(n.find("team-c"), None);
        assert_eq!(n.get(99), "?");
        assert_eq!(n.len(), 2);
    }
}
