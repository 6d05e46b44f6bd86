//! First use of a client, source IP, resource or field. The p-value is the
//! chance of a day bringing something new (the actor's own novelty rate,
//! with a prior of one new-item day in ten) times the chance that a new
//! item is as rare among the peers as today's ((users + 1) / (peers + 2),
//! calibrated on the actor's own past new items): a field no peer reads, on
//! an account that never changes, is strong evidence; one more unique IP
//! for a roaming agent is not.

use super::{Detector, Finding};
use crate::baseline::Baseline;
use crate::features::{ActorDay, ItemKind};

pub struct NewItems(pub ItemKind);

impl Detector for NewItems {
    fn name(&self) -> &'static str {
        match self.0 {
            ItemKind::Client => "new_client",
            ItemKind::SourceIp => "new_source_ip",
            ItemKind::Resource => "new_resource",
            ItemKind::Field => "new_field",
        }
    }
    fn evaluate(&self, today: &ActorDay, baseline: &Baseline) -> Option<Finding> {
        let novelty = baseline.novelty[self.0.index()].as_ref()?;
        let rarest = novelty
            .new_items
            .iter()
            .min_by(|a, b| a.rarity().total_cmp(&b.rarity()));
        let Some(item) = rarest else {
            return Some(Finding {
                detector: self.name(),
                p_value: 1.0,
                observed: 0.0,
                expected: novelty.rate,
                detail: format!("no new {}", self.0.name()),
                ..Finding::default()
            });
        };
        let names: Vec<&str> = novelty.new_items.iter().map(|i| i.value.as_str()).collect();
        Some(Finding {
            detector: self.name(),
            p_value: (novelty.rate * novelty.rarity_tail).min(1.0),
            observed: novelty.new_items.len() as f64,
            expected: novelty.rate,
            detail: format!(
                "first use of {} `{}` (used by {} of {} peers); new-{} days usually {:.1}%",
                self.0.name(),
                names.join("`, `"),
                item.peer_users,
                item.peers,
                self.0.name(),
                100.0 * novelty.rate
            ),
            onset: novelty.onset.filter(|d| *d < today.day),
            items: names.iter().map(|n| n.to_string()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{NewItem, Novelty};
    use crate::detect::testing::*;

    #[test]
    fn a_field_no_peer_reads_on_a_stable_account_is_evidence() {
        let mut b = baseline();
        b.novelty[ItemKind::Field.index()] = Some(Novelty {
            rate: 1.0 / 70.0,
            new_items: vec![NewItem {
                value: "card_number".into(),
                peer_users: 0,
                peers: 20,
            }],
            onset: None,
            rarity_tail: 1.0 / 22.0,
        });
        let f = NewItems(ItemKind::Field).evaluate(&day(), &b).unwrap();
        assert!(f.p_value < 1e-3, "{f:?}");
        assert!(f.detail.contains("card_number"));
        b.novelty[ItemKind::Field.index()] = Some(Novelty {
            rate: 0.3,
            new_items: vec![NewItem {
                value: "email".into(),
                peer_users: 18,
                peers: 20,
            }],
            onset: None,
            rarity_tail: 0.9,
        });
        assert!(
            NewItems(ItemKind::Field)
                .evaluate(&day(), &b)
                .unwrap()
                .p_value
                > 0.2
        );
    }
}
