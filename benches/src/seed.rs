//! Records as the engine leaves them, written straight into a store: the data of the
//! list benchmarks (`seed-instances`, `benches/list.rs`).

use serde_json::json;
use tacker_core::model::{
    InstantiatedVnfInfo, InstantiationState, LcmOperationStateType, LcmOperationType, Link,
    VimConnectionInfo,
};
use tacker_core::store::{OpOccRecord, Record, Store, VnfInstanceRecord, Write};
use tacker_core::testkit::fixtures;
use tacker_core::{TenantId, new_id};

/// Any failure, with its message.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The vnfdId of the `n`th seeded package.
pub fn vnfd_id(n: usize) -> String {
    format!("b1bb0ce7-ebca-4fa7-95ed-4840d70a{n:04}")
}

/// Turns a NOT_INSTANTIATED fixture into an INSTANTIATED instance as the engine leaves
/// it after an instantiation on a VIM.
pub fn instantiate(record: &mut VnfInstanceRecord, n: usize) -> Result<()> {
    let id = record.instance.id.clone();
    let vim_id = "9b5a6b4e-4c4e-4d5e-9f7a-0c1d2e3f4a5b";
    let vnfc = |vdu: &str| {
        json!({
            "id": format!("{vdu}-{id}"),
            "vduId": vdu,
            "computeResource": {
                "vimConnectionId": vim_id,
                "resourceId": format!("server-{vdu}-{n}"),
                "vimLevelResourceType": "OS::Nova::Server",
            },
            "vnfcCpInfo": [{"id": format!("{vdu}_CP1-{id}"), "cpdId": format!("{vdu}_CP1")}],
            "metadata": {"creation_time": "2026-01-01T00:00:00Z", "flavor": "m1.tiny"},
        })
    };
    let info = json!({
        "flavourId": "simple",
        "vnfState": "STARTED",
        "scaleStatus": [{"aspectId": "VDU1_scale", "scaleLevel": 0}],
        "maxScaleLevels": [{"aspectId": "VDU1_scale", "scaleLevel": 2}],
        "extCpInfo": [{
            "id": format!("VDU1_CP1-ext-{id}"),
            "cpdId": "VDU1_CP1",
            "cpConfigId": "VDU1_CP1_1",
            "cpProtocolInfo": [{
                "layerProtocol": "IP_OVER_ETHERNET",
                "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "isDynamic": true}]},
            }],
            "associatedVnfcCpId": format!("VDU1_CP1-{id}"),
        }],
        "vnfcResourceInfo": [vnfc("VDU1"), vnfc("VDU2")],
        "vnfVirtualLinkResourceInfo": [{
            "id": format!("internalVL1-{id}"),
            "vnfVirtualLinkDescId": "internalVL1",
            "networkResource": {
                "vimConnectionId": vim_id,
                "resourceId": format!("net-{n}"),
                "vimLevelResourceType": "OS::Neutron::Net",
            },
        }],
    });
    let vim = json!({
        "vimId": vim_id,
        "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3",
        "interfaceInfo": {"endpoint": "http://keystone.example:5000/v3"},
    });
    let instance = &mut record.instance;
    instance.instantiation_state = InstantiationState::Instantiated;
    instance.instantiated_vnf_info = Some(serde_json::from_value::<InstantiatedVnfInfo>(info)?);
    instance.vim_connection_info.insert(
        "vim1".to_owned(),
        serde_json::from_value::<VimConnectionInfo>(vim)?,
    );
    let base = instance.links.self_.href.clone();
    instance.links.instantiate = None;
    instance.links.terminate = Some(Link::new(format!("{base}/terminate")));
    instance.links.scale = Some(Link::new(format!("{base}/scale")));
    instance.links.heal = Some(Link::new(format!("{base}/heal")));
    instance.links.change_ext_conn = Some(Link::new(format!("{base}/change_ext_conn")));
    Ok(())
}

/// The COMPLETED instantiation of the instance `id`, which was `before`, as the engine
/// leaves it: its request, the instance before it (for rollback), and the VNFCs it added.
pub fn instantiation(id: &str, before: tacker_core::model::VnfInstance) -> OpOccRecord {
    let mut record = fixtures::op_occ(
        &new_id(),
        id,
        LcmOperationType::Instantiate,
        LcmOperationStateType::Completed,
    );
    record.op.operation_params = Some(json!({
        "flavourId": "simple",
        "instantiationLevelId": "instantiation_level_1",
        "extVirtualLinks": [{
            "id": "ext-vl-1",
            "resourceId": "net-ext",
            "extCps": [{"cpdId": "VDU1_CP1", "cpConfig": {"VDU1_CP1_1": {
                "cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET"}]
            }}}],
        }],
        "additionalParams": {"lcm-operation-user-data": "./UserData/lcm_user_data.py"},
    }));
    record.instance_before = Some(before);
    record
}

/// What [`seed`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// The ids of the packages, in order.
    pub packages: Vec<String>,
    /// The mean size of a stored instance body (of the first 1,000), in bytes.
    pub mean_body_bytes: usize,
}

/// Writes `packages` ONBOARDED packages and `instances` VNF instances (every other one
/// INSTANTIATED by [`instantiate`], with its [`instantiation`], all of the first package)
/// into `store` for `tenant`, about `batch` instances per commit.
pub async fn seed(
    store: &dyn Store,
    tenant: &TenantId,
    instances: usize,
    packages: usize,
    batch: usize,
) -> Result<Seeded> {
    let batch = batch.max(1);
    let mut seeded = Seeded::default();
    let writes: Vec<Write> = (0..packages)
        .map(|n| {
            let id = new_id();
            seeded.packages.push(id.clone());
            Write::Insert(fixtures::package(&id, Some(&vnfd_id(n))).into())
        })
        .collect();
    for chunk in writes.chunks(batch) {
        store.commit(tenant, chunk.to_vec()).await?;
    }
    let vnfd = if packages > 0 {
        vnfd_id(0)
    } else {
        vnfd_id(9999)
    };
    let mut body_bytes = 0usize;
    for start in (0..instances).step_by(batch) {
        let mut writes = Vec::with_capacity(batch);
        for n in start..(start + batch).min(instances) {
            let mut record = fixtures::instance(&new_id(), &vnfd, &format!("vnf-{n}"));
            record.vnf_pkg_id = seeded.packages.first().cloned();
            record.instance.vnf_instance_description = Some(format!("benchmark instance {n}"));
            if n % 2 == 0 {
                let before = record.instance.clone();
                instantiate(&mut record, n)?;
                writes.push(Write::Insert(
                    instantiation(&record.instance.id, before).into(),
                ));
            }
            let record = Record::from(record);
            if n < 1_000 {
                body_bytes += serde_json::to_vec(&record)?.len();
            }
            writes.push(Write::Insert(record));
        }
        store.commit(tenant, writes).await?;
    }
    seeded.mean_body_bytes = body_bytes / instances.clamp(1, 1_000);
    Ok(seeded)
}
