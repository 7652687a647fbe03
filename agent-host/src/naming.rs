//! Aggregated tool names: `<server>__<tool>`, only `[A-Za-z0-9_-]`, at most 64 characters (what
//! hosts and model APIs accept for function names), and never two alike: a name that would be
//! cut or would collide after sanitising gets a short hash of the original pair instead.

use std::collections::HashMap;

/// Longest aggregated name.
pub const MAX_NAME: usize = 64;

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a of the original pair: stable across runs and platforms.
fn tag(server: &str, tool: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in server.bytes().chain([0u8]).chain(tool.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h as u32)
}

fn shortened(server: &str, tool: &str) -> String {
    let full = format!("{}__{}", sanitize(server), sanitize(tool));
    let t = tag(server, tool);
    let keep = MAX_NAME - t.len() - 1;
    let cut: String = full.chars().take(keep).collect();
    format!("{cut}_{t}")
}

/// Names for `(server, tool)` pairs, in order.
pub fn assign(pairs: &[(&str, &str)]) -> Vec<String> {
    let plain: Vec<String> = pairs
        .iter()
        .map(|(s, t)| format!("{}__{}", sanitize(s), sanitize(t)))
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for n in &plain {
        *count.entry(n.as_str()).or_default() += 1;
    }
    pairs
        .iter()
        .zip(&plain)
        .map(|((s, t), n)| {
            if n.len() <= MAX_NAME && count[n.as_str()] == 1 {
                n.clone()
            } else {
                shortened(s, t)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(
            assign(&[("memory", "search_nodes"), ("slack", "channel_list")]),
            vec!["memory__search_nodes", "slack__channel_list"]
        );
    }

    #[test]
    fn collisions_after_sanitising_are_impossible_and_long_names_fit() {
        let long = "a".repeat(80);
        let longer = format!("{long}b");
        let pairs = [
            ("my.server", "get"),
            ("my server", "get"),
            ("x", long.as_str()),
            ("x", longer.as_str()),
        ];
        let names = assign(&pairs);
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for n in &names {
            assert!(n.len() <= MAX_NAME, "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
        }
        // Stable across runs.
        assert_eq!(names, assign(&pairs));
    }
}
