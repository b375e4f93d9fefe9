//! The cloud of `../shared/tools/openstack-full` seen as its administrator: what the
//! tests prepare there (images the packages name, quotas for parallel scenarios) and
//! what they read back from Nova and Neutron to compare with the VNFM's record.
//! Several test binaries include it, each using a part.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// An administrator's session: a token and the public endpoints of its catalog.
pub struct Admin {
    http: reqwest::Client,
    token: String,
    keystone: String,
    compute: String,
    network: String,
    image: String,
}

/// One Nova server: its status, the ports Neutron holds for it and its image's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub status: String,
    pub addresses: BTreeSet<String>,
    pub image: String,
}

impl Admin {
    /// Logs in as `username` in `project` (domain `default`).
    pub async fn login(auth_url: &str, username: &str, password: &str, project: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let keystone = auth_url.trim_end_matches('/').to_owned();
        let response = http
            .post(format!("{keystone}/auth/tokens"))
            .json(&json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": username, "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": project, "domain": {"id": "default"}}}
            }}))
            .send()
            .await
            .expect("Keystone answers");
        assert_eq!(response.status().as_u16(), 201, "the administrator logs in");
        let token = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .expect("X-Subject-Token")
            .to_owned();
        let body: Value = response.json().await.expect("a token body");
        let endpoint = |kind: &str| -> String {
            body["token"]["catalog"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["type"] == kind)
                .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
                .find(|e| e["interface"] == "public")
                .and_then(|e| {
                    e["url"]
                        .as_str()
                        .map(|u| u.trim_end_matches('/').to_owned())
                })
                .unwrap_or_else(|| panic!("the catalog has no public {kind} endpoint"))
        };
        Self {
            compute: endpoint("compute"),
            network: endpoint("network"),
            image: endpoint("image"),
            http,
            token,
            keystone,
        }
    }

    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, url)
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", "compute 2.79");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn get(&self, url: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, url, None).await;
        assert_eq!(status, 200, "GET {url}: {body}");
        body
    }

    /// The id of project `name`.
    pub async fn project_id(&self, name: &str) -> String {
        let body = self
            .get(&format!("{}/projects?name={name}", self.keystone))
            .await;
        body["projects"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("project {name} exists: {body}"))
            .to_owned()
    }

    /// A public 1 MiB raw image named `name` in Glance, uploaded unless there is one.
    pub async fn ensure_image(&self, name: &str) {
        let images = self
            .get(&format!("{}/v2/images?name={name}", self.image))
            .await;
        if images["images"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["status"] == "active"))
        {
            return;
        }
        let (status, image) = self
            .call(
                reqwest::Method::POST,
                &format!("{}/v2/images", self.image),
                Some(
                    json!({"name": name, "disk_format": "raw", "container_format": "bare",
                            "visibility": "public"}),
                ),
            )
            .await;
        assert_eq!(status, 201, "creating image {name}: {image}");
        let id = image["id"].as_str().expect("image id");
        let response = self
            .http
            .put(format!("{}/v2/images/{id}/file", self.image))
            .header("X-Auth-Token", &self.token)
            .header("Content-Type", "application/octet-stream")
            .body(vec![0u8; 1 << 20])
            .send()
            .await
            .expect("Glance answers");
        assert_eq!(response.status().as_u16(), 204, "uploading image {name}");
    }

    /// The images named `name` as Glance shows them (every project's).
    pub async fn images(&self, name: &str) -> Vec<Value> {
        let body = self
            .get(&format!(
                "{}/v2/images?name={name}&member_status=all",
                self.image
            ))
            .await;
        body["images"].as_array().cloned().unwrap_or_default()
    }

    /// Deletes every image named `name`.
    pub async fn delete_images(&self, name: &str) {
        for image in self.images(name).await {
            if let Some(id) = image["id"].as_str() {
                let (status, body) = self
                    .call(
                        reqwest::Method::DELETE,
                        &format!("{}/v2/images/{id}", self.image),
                        None,
                    )
                    .await;
                assert!(
                    status == 204 || status == 404,
                    "deleting image {id}: {body}"
                );
            }
        }
    }

    /// Flavor `name` (public), created with `ram_mb`, `vcpus` and `disk_gb` when Nova
    /// lacks it.
    pub async fn ensure_flavor(&self, name: &str, ram_mb: u64, vcpus: u64, disk_gb: u64) {
        let flavors = self.get(&format!("{}/flavors/detail", self.compute)).await;
        let exists = flavors["flavors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["name"] == name);
        if exists {
            return;
        }
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("{}/flavors", self.compute),
                Some(json!({"flavor": {"name": name, "ram": ram_mb, "vcpus": vcpus, "disk": disk_gb}})),
            )
            .await;
        assert!(
            status == 200 || status == 409,
            "create flavor {name}: {body}"
        );
    }

    /// Quotas for the scenarios that run side by side in `project_id`.
    pub async fn raise_quotas(&self, project_id: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("{}/os-quota-sets/{project_id}", self.compute),
                Some(json!({"quota_set": {
                    "instances": 200, "cores": 400, "ram": 1_024_000,
                    "server_groups": 100, "server_group_members": 200}})),
            )
            .await;
        assert_eq!(status, 200, "Nova quotas: {body}");
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("{}/v2.0/quotas/{project_id}", self.network),
                Some(json!({"quota": {"network": 200, "subnet": 200, "port": 1000}})),
            )
            .await;
        assert_eq!(status, 200, "Neutron quotas: {body}");
    }

    /// The servers of `project_id` in Nova, each with the fixed addresses of its ports
    /// in Neutron.
    pub async fn servers(&self, project_id: &str) -> BTreeMap<String, Server> {
        let servers = self
            .get(&format!(
                "{}/servers/detail?all_tenants=1&project_id={project_id}",
                self.compute
            ))
            .await;
        let ports = self.ports(project_id).await;
        servers["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let id = s["id"].as_str()?.to_owned();
                let addresses = ports
                    .values()
                    .filter(|(device, _)| device == &id)
                    .flat_map(|(_, ips)| ips.iter().cloned())
                    .collect();
                Some((
                    id,
                    Server {
                        status: s["status"].as_str().unwrap_or_default().to_owned(),
                        addresses,
                        image: s["image"]["id"].as_str().unwrap_or_default().to_owned(),
                    },
                ))
            })
            .collect()
    }

    /// The availability zone Nova placed a server in.
    pub async fn server_zone(&self, id: &str) -> String {
        let server = self.get(&format!("{}/servers/{id}", self.compute)).await;
        server["server"]["OS-EXT-AZ:availability_zone"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The ports of `project_id` in Neutron: id → (device id, fixed addresses).
    pub async fn ports(&self, project_id: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
        let ports = self
            .get(&format!(
                "{}/v2.0/ports?project_id={project_id}",
                self.network
            ))
            .await;
        ports["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let ips = p["fixed_ips"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|ip| ip["ip_address"].as_str().map(str::to_owned))
                    .collect();
                Some((
                    p["id"].as_str()?.to_owned(),
                    (p["device_id"].as_str().unwrap_or_default().to_owned(), ips),
                ))
            })
            .collect()
    }

    /// The networks of `project_id` in Neutron.
    pub async fn networks(&self, project_id: &str) -> BTreeSet<String> {
        let networks = self
            .get(&format!(
                "{}/v2.0/networks?project_id={project_id}",
                self.network
            ))
            .await;
        networks["networks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["id"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Admin {
    /// A network with a subnet inside 127.0.0.0/8 whose allocation pools are exactly
    /// `pools` (first and last address of each): the ports Neutron makes on it get the
    /// loopback addresses test servers listen on. Neutron refuses DHCP on a loopback
    /// subnet, and there is no gateway. Returns the network's and the subnet's ids.
    pub async fn loopback_network(
        &self,
        name: &str,
        cidr: &str,
        pools: &[(String, String)],
    ) -> (String, String) {
        let (status, network) = self
            .call(
                reqwest::Method::POST,
                &format!("{}/v2.0/networks", self.network),
                Some(json!({"network": {"name": name}})),
            )
            .await;
        assert_eq!(status, 201, "network {name}: {network}");
        let network_id = network["network"]["id"].as_str().expect("id").to_owned();
        let pools: Vec<Value> = pools
            .iter()
            .map(|(start, end)| json!({"start": start, "end": end}))
            .collect();
        let (status, subnet) = self
            .call(
                reqwest::Method::POST,
                &format!("{}/v2.0/subnets", self.network),
                Some(json!({"subnet": {
                    "name": name, "network_id": network_id, "ip_version": 4, "cidr": cidr,
                    "gateway_ip": null, "enable_dhcp": false, "allocation_pools": pools,
                }})),
            )
            .await;
        assert_eq!(status, 201, "subnet {cidr}: {subnet}");
        let subnet_id = subnet["subnet"]["id"].as_str().expect("id").to_owned();
        (network_id, subnet_id)
    }

    /// Deletes a network (and its subnets); a network already gone is not an error.
    pub async fn delete_network(&self, id: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::DELETE,
                &format!("{}/v2.0/networks/{id}", self.network),
                None,
            )
            .await;
        assert!(
            matches!(status, 204 | 404),
            "DELETE network {id}: {status} {body}"
        );
    }
}
