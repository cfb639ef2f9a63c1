//! Indexes marked since they were last taken: taking them costs what was marked, not how
//! many there could be (a flush after each result looked at all 5,000 monitors).

/// A set of indexes below a fixed length, marked and taken in the order first marked.
#[derive(Clone, Debug, Default)]
pub(crate) struct DirtySet {
    marked: Vec<bool>,
    order: Vec<usize>,
}

impl DirtySet {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            marked: vec![false; len],
            order: Vec::new(),
        }
    }

    pub(crate) fn mark(&mut self, index: usize) {
        if let Some(marked) = self.marked.get_mut(index) {
            if !*marked {
                *marked = true;
                self.order.push(index);
            }
        }
    }

    /// The indexes marked since the last take, each once; the set is empty after.
    pub(crate) fn take(&mut self) -> Vec<usize> {
        let taken = std::mem::take(&mut self.order);
        for &index in &taken {
            self.marked[index] = false;
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_index_marked_is_taken_once_and_the_set_starts_over() {
        let mut set = DirtySet::new(5);
        set.mark(3);
        set.mark(1);
        set.mark(3);
        set.mark(9);
        assert_eq!(set.take(), [3, 1], "once each, out of range ignored");
        assert!(set.take().is_empty());
        set.mark(3);
        assert_eq!(set.take(), [3], "marked again after a take");
    }
}
