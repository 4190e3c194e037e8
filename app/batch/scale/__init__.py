"""Studies at scale: which inputs a shard of an array job takes (`shards`), and which inputs are
already finished so a resumed run skips them (`resume`). Qt-free, Ray-free; used by the plain
`process` batch (app/batch/process.py) and by the Ray runner (app/cluster)."""
