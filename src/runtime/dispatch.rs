//! The scheduler's decisions as plain data: which steps may start now, which worker slots are
//! kept for streamed consumers, and what a finished step means for the others. No threads and no
//! DuckDB, so every rule is unit-tested here; `scheduler` keeps the workers, the edge flags, the
//! logs and the reports around it.
//!
//! Rules:
//! - A step starts when every step it needs has succeeded — or, for the consumer of a streamed
//!   edge, when its producer has published the view over its pipe — and a worker is free.
//! - A running producer keeps a worker for its consumer until the consumer starts, and a
//!   producer only starts when there are two (its own and its consumer's): edges never wait on
//!   each other for workers.
//! - A step that fails (or is cancelled) skips the steps that depend on it, directly or not;
//!   independent branches go on, so one run reports every failure it can. Cancelling the run
//!   starts nothing more.

use super::StepStatus;

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Not started.
    Pending,
    /// On a worker.
    Running,
    /// Done, with its status (skipped steps never started).
    Finished(StepStatus),
}

/// A step to start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Start {
    /// The step's index.
    pub step: usize,
    /// Upstream steps whose relation it reads: needs that produced one, or stream into it.
    pub inputs: Vec<usize>,
    /// One input streams in while the step runs (it reads a pipe).
    pub streamed_input: bool,
}

/// The state of a run's steps and the decisions taken on it.
pub(crate) struct Dispatch {
    needs: Vec<Vec<usize>>,
    consumer_of: Vec<Option<usize>>,
    published: Vec<bool>,
    produced: Vec<bool>,
    states: Vec<State>,
    workers: usize,
    in_flight: usize,
    cancelled: bool,
}

impl Dispatch {
    /// `needs[i]`: the steps step `i` needs; `consumer_of[j]`: the consumer of step `j`'s
    /// streamed edge, if it has one; `workers`: how many steps may run at once.
    pub fn new(needs: Vec<Vec<usize>>, consumer_of: Vec<Option<usize>>, workers: usize) -> Self {
        let n = needs.len();
        Self {
            needs,
            consumer_of,
            published: vec![false; n],
            produced: vec![false; n],
            states: vec![State::Pending; n],
            workers: workers.max(1),
            in_flight: 0,
            cancelled: false,
        }
    }

    /// Every step's state.
    pub fn states(&self) -> &[State] {
        &self.states
    }

    /// Steps on a worker now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether producer `j` is running and streaming into step `i` (its view over the pipe exists).
    fn streams_into(&self, j: usize, i: usize) -> bool {
        self.consumer_of[j] == Some(i) && self.published[j] && self.states[j] == State::Running
    }

    /// Whether step `i` may take a worker now. A consumer awaited by a running producer takes the
    /// worker kept for it; any other step leaves one free for each running producer whose
    /// consumer has not started, and a producer needs two.
    fn has_slot(&self, i: usize, awaited: bool) -> bool {
        if awaited {
            return self.in_flight < self.workers;
        }
        let reserved = (0..self.states.len())
            .filter(|&j| {
                self.states[j] == State::Running
                    && self.consumer_of[j].is_some_and(|c| self.states[c] == State::Pending)
            })
            .count();
        let needed = if self.consumer_of[i].is_some() { 2 } else { 1 };
        self.in_flight + reserved + needed <= self.workers
    }

    /// The steps that start now, in step order; they are marked running.
    pub fn start_ready(&mut self) -> Vec<Start> {
        let mut out = Vec::new();
        if self.cancelled {
            return out;
        }
        for i in 0..self.states.len() {
            if self.states[i] != State::Pending {
                continue;
            }
            let awaited = (0..self.states.len()).any(|j| self.streams_into(j, i));
            let needs_met = self.needs[i]
                .iter()
                .all(|&j| self.states[j] == State::Finished(StepStatus::Success) || self.streams_into(j, i));
            if !needs_met || !self.has_slot(i, awaited) {
                continue;
            }
            let inputs =
                self.needs[i].iter().copied().filter(|&j| self.produced[j] || self.streams_into(j, i)).collect();
            self.states[i] = State::Running;
            self.in_flight += 1;
            out.push(Start { step: i, inputs, streamed_input: awaited });
        }
        out
    }

    /// Producer `j` published the view over its pipe: its consumer may start.
    pub fn published(&mut self, j: usize) {
        self.published[j] = true;
    }

    /// The producer that streamed into `consumer`, if one did.
    pub fn fed_by(&self, consumer: usize) -> Option<usize> {
        (0..self.states.len()).find(|&j| self.consumer_of[j] == Some(consumer) && self.published[j])
    }

    /// Step `i` ended with `status`; `produced` when it left a relation. A step that did not
    /// succeed skips everything that depends on it.
    pub fn finished(&mut self, i: usize, status: StepStatus, produced: bool) {
        if self.states[i] == State::Running {
            self.in_flight -= 1;
        }
        self.states[i] = State::Finished(status);
        self.produced[i] = produced && status == StepStatus::Success;
        if status != StepStatus::Success {
            self.skip_dependants(i);
        }
    }

    /// A step that had succeeded is found to be the cause of a later failure (a view whose query
    /// fails when evaluated downstream): it is failed now, and its dependants skipped.
    pub fn blame(&mut self, i: usize) {
        self.states[i] = State::Finished(StepStatus::Failed);
        self.produced[i] = false;
        self.skip_dependants(i);
    }

    /// Mark every pending step that depends on `failed`, directly or not, as skipped.
    fn skip_dependants(&mut self, failed: usize) {
        let mut stack = vec![failed];
        while let Some(f) = stack.pop() {
            for i in 0..self.states.len() {
                if self.states[i] == State::Pending && self.needs[i].contains(&f) {
                    self.states[i] = State::Finished(StepStatus::Skipped);
                    stack.push(i);
                }
            }
        }
    }

    /// The run is being cancelled: nothing more starts.
    pub fn cancel(&mut self) {
        self.cancelled = true;
    }

    /// Producers whose streamed consumer will never start (skipped, or pending in a cancelled
    /// run): they must not wait for it.
    pub fn abandoned_edges(&self) -> Vec<usize> {
        (0..self.states.len())
            .filter(|&j| {
                self.consumer_of[j].is_some_and(|c| match self.states[c] {
                    State::Finished(StepStatus::Skipped) => true,
                    State::Pending => self.cancelled,
                    _ => false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepStatus::{Failed, Skipped, Success};

    fn started(d: &mut Dispatch) -> Vec<usize> {
        d.start_ready().into_iter().map(|s| s.step).collect()
    }

    #[test]
    fn a_diamond_runs_both_branches_together_and_joins_after_both() {
        // 0 → 1, 0 → 2, (1, 2) → 3
        let mut d = Dispatch::new(vec![vec![], vec![0], vec![0], vec![1, 2]], vec![None; 4], 2);
        assert_eq!(started(&mut d), [0]);
        d.finished(0, Success, true);
        let branches = d.start_ready();
        assert_eq!(
            branches.iter().map(|s| (s.step, s.inputs.clone())).collect::<Vec<_>>(),
            [(1, vec![0]), (2, vec![0])]
        );
        d.finished(1, Success, true);
        assert_eq!(started(&mut d), Vec::<usize>::new(), "the join waits for both branches");
        d.finished(2, Success, true);
        let join = d.start_ready();
        assert_eq!((join[0].step, join[0].inputs.clone()), (3, vec![1, 2]));
    }

    #[test]
    fn a_failed_branch_skips_only_its_dependants() {
        // 0 → 1 → 3, and 2 on its own; one worker.
        let mut d = Dispatch::new(vec![vec![], vec![0], vec![], vec![1]], vec![None; 4], 1);
        assert_eq!(started(&mut d), [0]);
        d.finished(0, Success, true);
        assert_eq!(started(&mut d), [1]);
        d.finished(1, Failed, false);
        assert_eq!(d.states()[3], State::Finished(Skipped));
        assert_eq!(started(&mut d), [2], "the independent branch still runs");
        d.finished(2, Success, true);
        assert!(d.start_ready().is_empty());
        assert_eq!(
            d.states(),
            [State::Finished(Success), State::Finished(Failed), State::Finished(Success), State::Finished(Skipped)]
        );
    }

    #[test]
    fn inputs_are_the_needs_that_left_a_relation() {
        // A writer (1) ordered after a writer (0) that leaves no relation, reading extract 2.
        let mut d = Dispatch::new(vec![vec![], vec![0, 2], vec![]], vec![None; 3], 2);
        assert_eq!(started(&mut d), [0, 2]);
        d.finished(0, Success, false);
        d.finished(2, Success, true);
        assert_eq!(d.start_ready()[0].inputs, [2]);
    }

    #[test]
    fn two_streamed_edges_on_two_workers_take_turns() {
        // Producers 0 and 2 stream into consumers 1 and 3.
        let needs = vec![vec![], vec![0], vec![], vec![2]];
        let mut d = Dispatch::new(needs, vec![Some(1), None, Some(3), None], 2);
        assert_eq!(started(&mut d), [0], "a producer needs its own worker and one for its consumer");
        assert!(d.start_ready().is_empty(), "the second worker is kept for consumer 1");
        d.published(0);
        let consumer = d.start_ready();
        assert_eq!(consumer, [Start { step: 1, inputs: vec![0], streamed_input: true }]);
        d.finished(1, Success, false);
        assert!(d.start_ready().is_empty(), "producer 2 needs two free workers; producer 0 still holds one");
        assert_eq!(d.fed_by(1), Some(0));
        d.finished(0, Success, true);
        assert_eq!(started(&mut d), [2]);
        d.published(2);
        assert_eq!(started(&mut d), [3]);
    }

    #[test]
    fn one_worker_runs_one_step_at_a_time_in_order() {
        // --max-parallel 1 plans no streamed edges.
        let mut d = Dispatch::new(vec![vec![], vec![], vec![0, 1]], vec![None; 3], 1);
        for step in 0..3 {
            assert_eq!(started(&mut d), [step]);
            assert_eq!(d.in_flight(), 1);
            d.finished(step, Success, true);
        }
        assert!(d.start_ready().is_empty());
    }

    #[test]
    fn cancelling_starts_nothing_more_and_frees_waiting_producers() {
        let mut d = Dispatch::new(vec![vec![], vec![0], vec![]], vec![Some(1), None, None], 3);
        assert_eq!(started(&mut d), [0, 2]);
        assert!(d.abandoned_edges().is_empty(), "consumer 1 may still start");
        d.cancel();
        d.published(0);
        assert!(d.start_ready().is_empty());
        assert_eq!(d.abandoned_edges(), [0], "producer 0 must not wait for consumer 1");
    }

    #[test]
    fn a_failed_producer_abandons_its_edge_and_blame_skips_dependants() {
        let mut d = Dispatch::new(vec![vec![], vec![0], vec![1]], vec![Some(1), None, None], 2);
        assert_eq!(started(&mut d), [0]);
        d.finished(0, Failed, false);
        assert_eq!(d.states()[1], State::Finished(Skipped));
        assert_eq!(d.abandoned_edges(), [0]);
        let mut v = Dispatch::new(vec![vec![], vec![0], vec![1]], vec![None; 3], 2);
        assert_eq!(started(&mut v), [0]);
        v.finished(0, Success, true);
        assert_eq!(started(&mut v), [1]);
        v.finished(1, Failed, false);
        v.blame(0);
        assert_eq!(v.states()[0], State::Finished(Failed));
        assert_eq!(v.states()[2], State::Finished(Skipped));
    }
}
