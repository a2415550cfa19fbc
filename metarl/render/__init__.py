"""Seeing policies: `metarl-render RUN_DIR` (python -m metarl.render).

point-goal: trajectories of the meta-policy and of the policies adapted with 1..k inner steps on a
few held-out goals (the MAML paper's Figure 4 style), as PNG and PDF. MuJoCo families: a video
(mp4, or gif) of the meta-policy and the adapted policy side by side on a held-out task, rendered
offscreen (MuJoCo's EGL back end by default; no display needed).

trained.py loads a run and adapts it, trajectories.py draws point-goal, video.py renders MuJoCo,
cli.py is the command line.
"""
