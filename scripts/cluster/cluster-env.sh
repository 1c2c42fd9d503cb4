# Sourced by start-cluster.sh, stop-cluster.sh and on: where a test cluster lives and what it is
# called. Two clusters with different SPAWNPOOL_CLUSTER_DIR and SPAWNPOOL_CLUSTER_PREFIX can run
# at once on one machine (and next to the single-node Slurm of scripts/slurm/: other config file,
# other munge socket and key, other spool dirs; ports cannot clash, each node has its own network).
#   SPAWNPOOL_CLUSTER_DIR     config, pid files, munge, spool, hosts file (default /run/spawnpool-cluster)
#   SPAWNPOOL_CLUSTER_PREFIX  prefix of the network namespaces: PREFIX-switch, PREFIX-ctl,
#                             PREFIX-node1.. (default spcl)
#   SPAWNPOOL_CLUSTER_LOGS    daemons' logs (default $SPAWNPOOL_CLUSTER_DIR/log; kept by stop
#                             when outside the cluster dir)
CLUSTER_DIR=${SPAWNPOOL_CLUSTER_DIR:-/run/spawnpool-cluster}
CLUSTER_PREFIX=${SPAWNPOOL_CLUSTER_PREFIX:-spcl}
CLUSTER_LOGS=${SPAWNPOOL_CLUSTER_LOGS:-$CLUSTER_DIR/log}
CLUSTER_CONF=$CLUSTER_DIR/slurm.conf
CLUSTER_MUNGE=$CLUSTER_DIR/munge            # the cluster's own munged: socket, key, pid, seed
CLUSTER_SUBNET=10.77.0                      # ctl .1, nodeI .10+I; unreachable from the host
