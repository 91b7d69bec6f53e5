"""The engine room: one LRX training step, one file per lifetime of state.

The route of one step (read in this order):

1. `keras_lrx/optimizer.py` -- `LRX`, the public face: the constructor
   checks the arguments, `build` resolves the multipliers into a `Plan`,
   builds the wrapped optimizer on the variables that train and makes the
   `Update`.
2. `pipeline.py` -- Keras's optimizer pipeline (`apply` ->
   `_apply_weight_decay` -> `_backend_update_step` -> `update_step` -> EMA),
   overridden in the order Keras calls it: frozen variables leave, the
   step's `StepValues` are made, each group updates (under one condition
   per thaw start on TensorFlow and JAX, in one pass on torch).
3. `update.py` -- the one place where `rate * multiplier` enters the wrapped
   optimizer's own `update_step` (with Keras's stock decoupled decay at the
   same rate); `torch_fused.py` is its one-pass form for Keras's stock
   torch optimizers.

The lifetimes of state:

- configuration (saved in `get_config`): on `LRX` itself;
- `plan.Plan`: what `build` decided (groups, frozen set, schedules, decay
  factors, condition keys), immutable afterwards;
- `step.StepValues`: one step's values (the step or the held step, each
  time-varying multiplier evaluated once, lazily);
- `hyperparameters.Hyperparameters`: the scheduled hyperparameters, checked
  at construction, one evaluator for the step, `hyperparameters_at` and the
  metric;
- `learned_scale.LearnedScale` (with `LRX(scale=...)`): the estimator's
  state and references, made at build; each step it wraps the update (the
  nominal rate in, the scaled weights out);
- user context: `LRX.hold_multipliers()` (the held step) and the JAX metric
  hook's recorders.

Keras internals are named only in `pipeline.py` and in
`keras_lrx/_keras_compat.py`.
"""
