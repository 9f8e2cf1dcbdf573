//! What the dashboard takes from full pool bodies. A large account's full listing is reduced
//! page by page as it arrives: the bodies of the pools the definition names (the plan compares
//! them), and for every other pool only the facts the table shows. The body of a pool whose
//! details are open is read on its own (`Command::FullPool`).

use crate::batch::Pool;
use crate::batch::retirements::{self, Retirement};
use crate::definition::Definition;
use std::collections::HashMap;

/// What the table shows from a pool's full body (its listing selects neither image nor formula).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FullFacts {
    /// Batch retires the pool's image (its VM family comes from the table's own listing).
    pub image_retiring: Option<&'static Retirement>,
    /// The autoscale formula, to prefill the autoscale form.
    pub formula: Option<String>,
}

/// A full listing, reduced.
#[derive(Clone, Debug, Default)]
pub struct FullListing {
    /// Full bodies of the pools the definition names.
    pub defined: Vec<Pool>,
    /// Every other pool's id (the plan's "not in the definition").
    pub others: Vec<String>,
    /// Facts of the pools that have any, by lower-cased id.
    pub facts: HashMap<String, FullFacts>,
}

impl FullListing {
    /// Takes one page: what is kept of it, the rest dropped at once.
    pub fn add(&mut self, page: Vec<Pool>, definition: Option<&Definition>) {
        for pool in page {
            let vm = pool.rest.get("virtualMachineConfiguration").cloned().unwrap_or_default();
            let facts = FullFacts {
                image_retiring: retirements::of_image(&serde_json::json!({ "virtualMachineConfiguration": vm })),
                formula: pool.auto_scale_formula.clone().filter(|_| pool.autoscale()),
            };
            if facts != FullFacts::default() {
                self.facts.insert(pool.id().to_lowercase(), facts);
            }
            match definition.and_then(|d| d.pool(pool.id())) {
                Some(_) => self.defined.push(pool),
                None => self.others.push(pool.id().to_string()),
            }
        }
    }

    /// A whole listing at once (tests, small accounts).
    pub fn of(pools: Vec<Pool>, definition: Option<&Definition>) -> FullListing {
        let mut listing = FullListing::default();
        listing.add(pools, definition);
        listing
    }
}
