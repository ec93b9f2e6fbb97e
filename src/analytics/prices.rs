//! GPU prices per product (or per ResourceFlavor), in US dollars per GPU-hour.
//!
//! A flavor (`h100-80gb`) or a node's product label (`NVIDIA-H100-80GB-HBM3`) is matched to a
//! product by name: an entry named exactly like the flavor wins; otherwise the longest
//! product name contained in it, comparing letters and digits only, case-insensitively
//! (`a100` before `a10`, `l40s` before `l4`). What matches nothing is priced at the
//! `default` entry and shown as its own name.
//!
//! The user's `config.toml` may add or replace entries with a `[prices]` table
//! (`h100 = 3.10`, `"my-flavor" = 1.2`, `default = 1.5`).

use std::collections::HashMap;

use serde::Serialize;

/// The default table. Illustrative on-demand cloud list prices per GPU-hour (rounded, 2025);
/// not a quote — put your own in `[prices]`.
pub const DEFAULT_PRICES: &[(&str, f64)] = &[
    ("B200", 6.00),
    ("H200", 4.50),
    ("H100", 4.00),
    ("A100", 3.00),
    ("V100", 2.50),
    ("L40S", 1.80),
    ("A10G", 1.00),
    ("A10", 1.00),
    ("L4", 0.80),
    ("T4", 0.50),
];

/// Price of a GPU-hour that matches no entry.
pub const DEFAULT_FALLBACK: f64 = 2.00;

/// One product and its price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Price {
    /// Product (or flavor) name, as shown in reports.
    pub product: String,
    /// US dollars per GPU-hour.
    pub usd_per_gpu_hour: f64,
}

/// The price table in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    entries: Vec<Price>,
    /// `normalise(entries[i].product)`, computed once per entry.
    keys: Vec<String>,
    /// Normalised name → index in `entries`: setting and exact lookups are one hash lookup,
    /// so a table of 80,000 prices loads in linear time.
    index: HashMap<String, usize>,
    fallback: f64,
    /// True when every entry is the default table's.
    defaults_only: bool,
}

impl Default for Prices {
    fn default() -> Self {
        let mut prices = Self {
            entries: Vec::new(),
            keys: Vec::new(),
            index: HashMap::new(),
            fallback: DEFAULT_FALLBACK,
            defaults_only: true,
        };
        for (product, usd) in DEFAULT_PRICES {
            prices.upsert(product, *usd);
        }
        prices
    }
}

impl Prices {
    /// Adds or replaces an entry (`default` sets the fallback price).
    pub fn set(&mut self, product: &str, usd_per_gpu_hour: f64) {
        self.defaults_only = false;
        if product.eq_ignore_ascii_case("default") {
            self.fallback = usd_per_gpu_hour;
            return;
        }
        self.upsert(product, usd_per_gpu_hour);
    }

    /// Replaces the entry with `product`'s normalised name, or adds one.
    fn upsert(&mut self, product: &str, usd_per_gpu_hour: f64) {
        let key = normalise(product);
        match self.index.get(&key).and_then(|i| self.entries.get_mut(*i)) {
            Some(e) => {
                e.product = product.to_string();
                e.usd_per_gpu_hour = usd_per_gpu_hour;
            }
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.keys.push(key);
                self.entries.push(Price { product: product.to_string(), usd_per_gpu_hour });
            }
        }
    }

    /// The price of a GPU-hour that matches no entry.
    pub fn fallback(&self) -> f64 {
        self.fallback
    }

    /// Every entry.
    pub fn entries(&self) -> &[Price] {
        &self.entries
    }

    /// True when no user entry changed the default table.
    pub fn is_default(&self) -> bool {
        self.defaults_only
    }

    /// The product a flavor or product label names, and its price per GPU-hour.
    pub fn lookup(&self, name: &str) -> Price {
        let key = normalise(name);
        if let Some(e) = self.index.get(&key).and_then(|i| self.entries.get(*i)) {
            return e.clone();
        }
        let best = self
            .keys
            .iter()
            .zip(&self.entries)
            .filter(|(k, _)| !k.is_empty() && key.contains(k.as_str()))
            .max_by_key(|(k, _)| k.len());
        match best {
            Some((_, e)) => e.clone(),
            None => Price { product: name.to_string(), usd_per_gpu_hour: self.fallback },
        }
    }
}

/// Letters and digits only, lower case: `NVIDIA-H100-80GB` → `nvidiah10080gb`.
fn normalise(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_and_node_labels_find_their_product() {
        let p = Prices::default();
        assert_eq!(p.lookup("h100-80gb").product, "H100");
        assert_eq!(p.lookup("NVIDIA-H100-80GB-HBM3").usd_per_gpu_hour, 4.00);
        assert_eq!(p.lookup("a100-80gb").product, "A100");
        // The longest product contained wins: A100 is not an A10, L40S is not an L4.
        assert_eq!(p.lookup("NVIDIA-A100-SXM4-40GB").product, "A100");
        assert_eq!(p.lookup("NVIDIA-A10G").product, "A10G");
        assert_eq!(p.lookup("nvidia-l40s").product, "L40S");
        assert_eq!(p.lookup("NVIDIA-L4").product, "L4");
    }

    #[test]
    fn unknown_products_cost_the_fallback_under_their_own_name() {
        let p = Prices::default();
        let price = p.lookup("mi300x");
        assert_eq!(price.product, "mi300x");
        assert_eq!(price.usd_per_gpu_hour, DEFAULT_FALLBACK);
    }

    #[test]
    fn user_entries_replace_defaults_and_exact_flavor_names_win() {
        let mut p = Prices::default();
        assert!(p.is_default());
        p.set("h100", 3.10);
        p.set("h100-spot", 1.25);
        p.set("default", 9.0);
        assert!(!p.is_default());
        assert_eq!(p.lookup("h100-80gb").usd_per_gpu_hour, 3.10);
        assert_eq!(p.lookup("h100-80gb").product, "h100");
        assert_eq!(p.lookup("h100-spot").usd_per_gpu_hour, 1.25);
        assert_eq!(p.lookup("mystery").usd_per_gpu_hour, 9.0);
        assert_eq!(p.entries().len(), DEFAULT_PRICES.len() + 1);
    }
}
