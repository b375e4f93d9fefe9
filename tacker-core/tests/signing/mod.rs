//! Signed VNF packages for tests: CAs and signing certificates made with `openssl`, the
//! repository's sample package with a manifest listing every file, signed with
//! `openssl cms`.

use std::path::{Path, PathBuf};
use std::process::Command;

use tacker_core::csar::{Csar, CsarOptions};

const SAMPLE: &str = "../examples/packages/sample-vnf";

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tacker-sig-{}", tacker_core::new_id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, and signing certificates it issues.
pub struct Ca {
    dir: PathBuf,
    name: String,
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Self {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-subj",
                &format!("/CN={name}"),
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(
            dir.join(format!("{name}.cnf")),
            format!(
                "[ca]\ndefault_ca = own\n[own]\ndir = .\ndatabase = {name}.index\n\
                 new_certs_dir = .\nserial = {name}.serial\ndefault_md = sha256\n\
                 policy = any\nunique_subject = no\n[any]\ncommonName = supplied\norganizationName = optional\n\
                 [signer]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n\
                 extendedKeyUsage = codeSigning\nsubjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid\n[server]\nbasicConstraints = CA:FALSE\n\
                 extendedKeyUsage = serverAuth\n[tls-server]\nbasicConstraints = CA:FALSE\n\
                 extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n\
                 [tls-client]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n"
            ),
        )
        .expect("ca config");
        std::fs::write(dir.join(format!("{name}.index")), "").expect("index");
        std::fs::write(dir.join(format!("{name}.serial")), "1000\n").expect("serial");
        Self {
            dir: dir.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.join(format!("{}.pem", self.name))).expect("ca pem")
    }

    /// The CA certificate file.
    pub fn pem_path(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    /// A signing certificate `name` (RSA when `rsa`, else P-256), valid from `start` to
    /// `end` (`YYYYMMDDHHMMSSZ`), with the extensions of `section`.
    pub fn issue(
        &self,
        name: &str,
        rsa: bool,
        window: Option<(&str, &str)>,
        section: &str,
    ) -> Signer {
        let stem = format!("{}-{name}", self.name);
        let key = format!("{stem}.key");
        let csr = format!("{stem}.csr");
        let mut request = vec!["req", "-new", "-nodes", "-keyout", &key, "-out", &csr];
        let subject = format!("/CN={name}/O=Example Vendor");
        request.extend(["-subj", &subject]);
        if rsa {
            request.extend(["-newkey", "rsa:2048"]);
        } else {
            request.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
        }
        openssl(&self.dir, &request);
        let config = format!("{}.cnf", self.name);
        let cert = format!("{stem}.pem");
        let ca_cert = format!("{}.pem", self.name);
        let ca_key = format!("{}.key", self.name);
        let mut sign = vec![
            "ca",
            "-batch",
            "-notext",
            "-config",
            &config,
            "-cert",
            &ca_cert,
            "-keyfile",
            &ca_key,
            "-in",
            &csr,
            "-out",
            &cert,
            "-extensions",
            section,
        ];
        match window {
            Some((start, end)) => sign.extend(["-startdate", start, "-enddate", end]),
            None => sign.extend(["-days", "10"]),
        }
        openssl(&self.dir, &sign);
        Signer {
            dir: self.dir.clone(),
            name: stem,
        }
    }
}

pub struct Signer {
    dir: PathBuf,
    name: String,
}

impl Signer {
    pub fn pem(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.pem", self.name))).expect("pem")
    }

    /// The certificate file.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    /// The private key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(format!("{}.key", self.name))
    }

    /// The certificate and its key in one PEM file (a client identity); its path.
    pub fn identity_path(&self) -> PathBuf {
        let path = self.dir.join(format!("{}.identity.pem", self.name));
        let key = std::fs::read_to_string(self.key_path()).expect("key");
        std::fs::write(&path, format!("{}{key}", self.pem())).expect("identity");
        path
    }

    /// A detached PEM CMS signature of `content` (with the certificate inside unless
    /// `without_certificate`).
    pub fn sign(&self, content: &[u8], without_certificate: bool) -> String {
        let input = self.dir.join(format!("to-sign-{}", tacker_core::new_id()));
        std::fs::write(&input, content).expect("content");
        let output = self
            .dir
            .join(format!("signature-{}", tacker_core::new_id()));
        let cert = format!("{}.pem", self.name);
        let key = format!("{}.key", self.name);
        let (input_s, output_s) = (input.display().to_string(), output.display().to_string());
        let mut args = vec![
            "cms", "-sign", "-binary", "-md", "sha256", "-outform", "PEM", "-in", &input_s, "-out",
            &output_s, "-signer", &cert, "-inkey", &key,
        ];
        if without_certificate {
            args.push("-nocerts");
        }
        openssl(&self.dir, &args);
        std::fs::read_to_string(&output).expect("signature")
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

pub fn sha256_hex(mut bytes: &[u8]) -> String {
    tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut bytes)
        .expect("digest")
}

/// The corpus package with a manifest listing every file with its digest, and
/// TOSCA.meta naming the manifest and `Files/Certificates/signer.cert`.
pub struct Package {
    pub root: PathBuf,
}

pub const DF: &str = "Definitions/sample_vnf_df_simple.yaml";

impl Package {
    pub fn new(scratch: &Path, name: &str) -> Self {
        let root = scratch.join(name);
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE), &root);
        std::fs::remove_file(root.join("sample_vnf.mf")).expect("own manifest");
        let meta = std::fs::read_to_string(root.join("TOSCA-Metadata/TOSCA.meta"))
            .expect("meta")
            .replace("ETSI-Entry-Manifest: sample_vnf.mf\n", "");
        std::fs::write(
            root.join("TOSCA-Metadata/TOSCA.meta"),
            format!(
                "{}\nETSI-Entry-Manifest: manifest.mf\n\
                 ETSI-Entry-Certificate: Files/Certificates/signer.cert\n",
                meta.trim_end()
            ),
        )
        .expect("meta");
        Self { root }
    }

    /// The manifest body (no signature) listing every definitions file; `extra` is
    /// appended to the block of the deployment flavour file.
    pub fn manifest_body(&self, df_extra: &str) -> String {
        let mut body = String::from(
            "metadata:\n  vnf_provider_id: Company\n  vnf_product_name: Sample VNF\n  \
             vnf_release_date_time: 2026-12-07T10:00:00+00:00\n  vnf_package_version: 1.0\n\n",
        );
        let mut files = Vec::new();
        for dir in ["Definitions", "Scripts"] {
            for entry in std::fs::read_dir(self.root.join(dir)).expect("dir") {
                let name = entry.expect("entry").file_name();
                files.push(format!("{dir}/{}", name.to_string_lossy()));
            }
        }
        files.sort();
        for file in files {
            let content = std::fs::read(self.root.join(&file)).expect("file");
            body.push_str(&format!(
                "Source: {file}\nAlgorithm: SHA-256\nHash: {}\n",
                sha256_hex(&content)
            ));
            if file == DF {
                body.push_str(df_extra);
            }
            body.push('\n');
        }
        body
    }

    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let target = self.root.join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
        std::fs::write(target, content).expect("write");
    }

    /// Signs the manifest: body + CMS block; the certificate goes into the package file.
    pub fn sign(&self, signer: &Signer, without_certificate: bool) {
        let body = self.manifest_body("");
        let signature = signer.sign(body.as_bytes(), without_certificate);
        self.write("manifest.mf", format!("{body}{signature}"));
        self.write("Files/Certificates/signer.cert", signer.pem());
    }

    pub fn csar(&self) -> Csar {
        let options = CsarOptions::default();
        let csar = Csar::from_dir(&self.root, &options).expect("package opens");
        csar.verify_hashes(&options).expect("digests");
        csar
    }
}
