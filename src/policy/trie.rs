//! A byte trie whose nodes hold the rules keyed by the path to them: the glob index of the
//! cookie matcher (literal prefixes and reversed suffixes) and of the script matcher (reversed
//! host suffixes).

#[derive(Clone, Debug)]
pub(crate) struct Trie<T> {
    nodes: Vec<Node<T>>,
}

#[derive(Clone, Debug)]
struct Node<T> {
    /// Children sorted by byte.
    children: Vec<(u8, u32)>,
    /// Rules whose key ends at this node, in insertion order.
    rules: Vec<T>,
}

impl<T> Node<T> {
    fn empty() -> Node<T> {
        Node {
            children: Vec::new(),
            rules: Vec::new(),
        }
    }
}

impl<T> Default for Trie<T> {
    fn default() -> Trie<T> {
        Trie::new()
    }
}

impl<T> Trie<T> {
    pub(crate) fn new() -> Trie<T> {
        Trie {
            nodes: vec![Node::empty()],
        }
    }

    pub(crate) fn insert(&mut self, key: impl Iterator<Item = u8>, rule: T) {
        let mut at = 0usize;
        for b in key {
            let node = &self.nodes[at];
            at = match node.children.binary_search_by_key(&b, |&(c, _)| c) {
                Ok(i) => node.children[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len() as u32;
                    self.nodes[at].children.insert(i, (b, next));
                    self.nodes.push(Node::empty());
                    next as usize
                }
            };
        }
        self.nodes[at].rules.push(rule);
    }

    /// Visits the rule lists of every node along `key` (the root included).
    pub(crate) fn walk(&self, key: impl Iterator<Item = u8>, mut visit: impl FnMut(&[T])) {
        let mut at = 0usize;
        visit(&self.nodes[0].rules);
        for b in key {
            let node = &self.nodes[at];
            match node.children.binary_search_by_key(&b, |&(c, _)| c) {
                Ok(i) => at = node.children[i].1 as usize,
                Err(_) => return,
            }
            visit(&self.nodes[at].rules);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.len() == 1 && self.nodes[0].rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_the_rules_along_a_key() {
        let mut t: Trie<u8> = Trie::new();
        assert!(t.is_empty());
        t.insert("".bytes(), 0);
        t.insert("ab".bytes(), 1);
        t.insert("abc".bytes(), 2);
        t.insert("b".bytes(), 3);
        let mut seen = Vec::new();
        t.walk("abd".bytes(), |r| seen.extend_from_slice(r));
        assert_eq!(seen, vec![0, 1]);
        assert!(!t.is_empty());
    }
}
