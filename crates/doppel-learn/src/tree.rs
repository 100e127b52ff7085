//! A fitted regression tree over binned features.

/// Marks a node whose split is numeric (no category bitset).
pub(crate) const NO_BITSET: u32 = u32::MAX;

/// A 256-bit set of bins.
pub(crate) type Bitset = [u64; 4];

/// Whether `bin` is in `set`.
#[inline]
pub(crate) fn in_bitset(set: &Bitset, bin: u8) -> bool {
    set[usize::from(bin >> 6)] >> (bin & 63) & 1 == 1
}

/// Adds `bin` to `set`.
#[inline]
pub(crate) fn set_bit(set: &mut Bitset, bin: u8) {
    set[usize::from(bin >> 6)] |= 1 << (bin & 63);
}

/// One node of a tree: a leaf (with its value, shrinkage included) or a split.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    /// Leaf value (shrinkage applied); unused for splits.
    pub(crate) value: f64,
    /// Index of the left child.
    pub(crate) left: u32,
    /// Index of the right child.
    pub(crate) right: u32,
    /// Feature the node splits on.
    pub(crate) feature: u32,
    /// Index into [`Tree::bitsets`] of the bins going left for a categorical split, else [`NO_BITSET`].
    pub(crate) bitset: u32,
    /// Numeric splits: bins `<= bin` go left.
    pub(crate) bin: u8,
    /// Where missing values (and unknown categories) go.
    pub(crate) missing_left: bool,
    /// Whether the node is a leaf.
    pub(crate) is_leaf: bool,
}

/// A fitted tree; node 0 is the root.
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    /// The nodes.
    pub(crate) nodes: Vec<Node>,
    /// Left-category bitsets of the categorical splits.
    pub(crate) bitsets: Vec<Bitset>,
}

impl Tree {
    /// The value of the leaf that row `row` of the column-major binned data falls into.
    #[inline]
    pub(crate) fn predict_row(&self, columns: &[Vec<u8>], row: usize, missing_bin: u8) -> f64 {
        let mut node = &self.nodes[0];
        while !node.is_leaf {
            let bin = columns[node.feature as usize][row];
            let go_left = if bin == missing_bin {
                node.missing_left
            } else if node.bitset != NO_BITSET {
                in_bitset(&self.bitsets[node.bitset as usize], bin)
            } else {
                bin <= node.bin
            };
            node = &self.nodes[if go_left { node.left } else { node.right } as usize];
        }
        node.value
    }

    /// Number of leaves.
    pub(crate) fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf).count()
    }
}
