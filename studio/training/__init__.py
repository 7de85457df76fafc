"""Training (no Qt): `studio train` and the window's child process run `run_training`.

* `trainer.Trainer`: the loop, with Lightning-style callbacks (`callbacks.Callback`).
* `modes`: what one step does (supervised, autoencoder, GAN).
* `runs`: the `NAME.runs/RUN-ID/` folder; `checkpoints`: `last.pt` / `best.pt`.
* `events`: the JSON-lines protocol on stdout (`started`, `step`, `epoch`, ...).
* `session.run_training`: project → data, model, callbacks, run folder → trained run.
* `stopping.StopRequests`: "stop" on stdin or SIGTERM/SIGINT → a graceful stop.
"""
