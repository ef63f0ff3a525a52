"""Training (paper sec. 3.4): the loop, the `Trainer` and its step, loss, schedule, hold-out, guards."""
