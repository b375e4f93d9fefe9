# The management driver this VNFD binds to its Vnflcm interface.
#
# tacker-rs implements it in Rust (the tacker-mgmt-k8s-cluster crate) and selects it by
# this file name; this file only names it, as Tacker packages do with their driver.
# The driver runs Scripts/install_k8s_cluster.sh on the VNF's VMs over SSH.
