//! `README.txt`: a note for whoever finds a medium. Informative only; it is covered by
//! the volume signature like every other file.

use super::id::{BundleId, KeyId};

/// Everything the note says.
pub struct ReadmeFacts<'a> {
    /// Organization.
    pub organization: &'a str,
    /// Bundle id.
    pub bundle: BundleId,
    /// Sequence number.
    pub sequence: u64,
    /// Creation time.
    pub created: &'a str,
    /// Signing key.
    pub signer: KeyId,
    /// This volume.
    pub volume: u32,
    /// Volume count.
    pub volumes: u32,
}

/// The note's bytes.
pub fn encode(f: &ReadmeFacts<'_>) -> Vec<u8> {
    format!(
        "\
This medium is volume {volume} of {volumes} of a ferry bundle: signed yum repositories
being carried to a disconnected network.

  organization  {org}
  bundle        {bundle}
  sequence      {seq}
  created       {created}
  signed by     key {signer}

Check this volume with ferry (only the public key of the signer is needed):

  ferry verify --trust KEY.pub DIR...

or without ferry, with OpenBSD signify, from inside this directory:

  signify-openbsd -C -p KEY.pub -x SHA256.sig

Do not rename or edit anything here: every file is covered by SHA256.sig.
The format is described in spec/FORMAT.md of the ferry source.
",
        volume = f.volume,
        volumes = f.volumes,
        org = f.organization,
        bundle = f.bundle,
        seq = f.sequence,
        created = f.created,
        signer = f.signer,
    )
    .into_bytes()
}
