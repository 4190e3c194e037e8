"""`process --ray`: one Ray task per video, on this machine or a cluster (docs/CLUSTER.md).

Ray is the optional `cluster` extra and never in the app bundle: it is imported only inside
`ray_runner` functions, after the environment that keeps a local Ray on this machine's loopback
is set. `ray_task` is the worker side and never imports Ray itself.
"""
