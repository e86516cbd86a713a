//! Trusted devices (`matrix.device_trust`): whose answers and commands count, who gets keys.
//!
//! With `cross-signed` (the default) a device is trusted when its owner has cross-signed it,
//! or when it is the only device of a user who has no cross-signing identity at all (someone
//! who never set up verification has nothing to sign with; their one device is as good as the
//! account). With `any` every device is trusted, as before MSC4153.
//!
//! The SDK has no setting that says exactly this: its decryption requirement
//! `CrossSignedOrLegacy` refuses every device of a user without an identity (it reports them
//! as `UnsignedDevice`, like an unsigned device of a user who has one), and its
//! `IdentityBasedStrategy` for room keys withholds them from such users too. So the client
//! decrypts everything (`TrustRequirement::Untrusted`) and shares with all devices the bot has
//! not blacklisted (`CollectStrategy::AllDevices`), and this module decides:
//! - [`judge`] (pure) rules on one device from what is known about it and its owner;
//! - [`admit`] applies it to a decrypted timeline event: an event from an untrusted device is
//!   logged (without ids or content) and must then be dropped by the caller, never counted as
//!   an answer or a command;
//! - [`withhold_keys`] applies it to the members of a room right before the bot sends there:
//!   devices that fail are blacklisted in the crypto store (the SDK then withholds the room key
//!   from them and rotates the session), devices that pass again are un-blacklisted.
//!
//! Only facts from the local crypto store are used (no request to the homeserver); the SDK keeps
//! them current from the device-list changes in every sync.

use matrix_sdk::deserialized_responses::{
    EncryptionInfo, TimelineEvent, VerificationLevel, VerificationState,
};
use matrix_sdk::encryption::LocalTrust;
use matrix_sdk::ruma::UserId;
use matrix_sdk::{Client, Room, RoomMemberships};
use tracing::{debug, info, warn};

pub use crate::config::DeviceTrust;

/// How a device is tied to its owner's cross-signing identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceLink {
    /// Signed by its owner's current identity (verified by the bot or not).
    CrossSigned,
    /// Known, but not signed by an identity of its owner (or the owner has none).
    Unsigned,
    /// Signed, but the owner's identity changed after the bot had verified it.
    IdentityChanged,
    /// Not tied to a known device: unknown device, a key from an insecure source, or an event
    /// whose sender is not the owner of the device that encrypted it.
    Unknown,
    /// Not encrypted at all: no device to judge.
    Plaintext,
}

/// What is known about one device and its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The device's tie to its owner.
    pub link: DeviceLink,
    /// Whether the owner has published a cross-signing identity.
    pub owner_has_identity: bool,
    /// How many devices the owner has (dehydrated devices not counted).
    pub owner_devices: usize,
}

/// Why a device is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distrust {
    /// The owner has a cross-signing identity but did not sign this device.
    NotCrossSigned,
    /// The owner has no identity and more than one device: none of them is "the only one".
    OneOfSeveralUnsigned,
    /// The owner's identity changed after it had been verified.
    IdentityChanged,
    /// The sending device is unknown, or the event's sender does not own it.
    UnknownDevice,
    /// A plaintext event in an end-to-end encrypted room (only the homeserver can put it there).
    PlaintextInEncryptedRoom,
}

impl Distrust {
    /// A short reason for the log (no ids).
    pub fn as_str(self) -> &'static str {
        match self {
            Distrust::NotCrossSigned => "device not cross-signed by its owner",
            Distrust::OneOfSeveralUnsigned => {
                "owner has no cross-signing identity and more than one device"
            }
            Distrust::IdentityChanged => "owner's verified identity changed",
            Distrust::UnknownDevice => "sending device unknown or not the sender's",
            Distrust::PlaintextInEncryptedRoom => "unencrypted event in an encrypted room",
        }
    }
}

/// Rules on one device: `Ok` when `policy` trusts it.
///
/// `room_encrypted` matters only for [`DeviceLink::Plaintext`]: in a room without encryption
/// there is no device to judge, so the event passes (the router's own rules apply: no answers
/// and no reports there); in an encrypted room a plaintext event can only come from the
/// homeserver and is refused.
pub fn judge(
    policy: DeviceTrust,
    facts: DeviceFacts,
    room_encrypted: bool,
) -> Result<(), Distrust> {
    if policy == DeviceTrust::Any {
        return Ok(());
    }
    match facts.link {
        DeviceLink::CrossSigned => Ok(()),
        DeviceLink::Unsigned if facts.owner_has_identity => Err(Distrust::NotCrossSigned),
        DeviceLink::Unsigned if facts.owner_devices == 1 => Ok(()),
        DeviceLink::Unsigned => Err(Distrust::OneOfSeveralUnsigned),
        DeviceLink::IdentityChanged => Err(Distrust::IdentityChanged),
        DeviceLink::Unknown => Err(Distrust::UnknownDevice),
        DeviceLink::Plaintext if room_encrypted => Err(Distrust::PlaintextInEncryptedRoom),
        DeviceLink::Plaintext => Ok(()),
    }
}

/// The link an event's decryption reported (the state at decryption time).
pub fn link_of(info: Option<&EncryptionInfo>) -> DeviceLink {
    match info.map(|i| &i.verification_state) {
        None => DeviceLink::Plaintext,
        Some(VerificationState::Verified) => DeviceLink::CrossSigned,
        Some(VerificationState::Unverified(level)) => match level {
            VerificationLevel::UnverifiedIdentity => DeviceLink::CrossSigned,
            VerificationLevel::UnsignedDevice => DeviceLink::Unsigned,
            VerificationLevel::VerificationViolation => DeviceLink::IdentityChanged,
            VerificationLevel::None(_) | VerificationLevel::MismatchedSender => DeviceLink::Unknown,
        },
    }
}

/// The owner's side of the facts: identity and device count, from the crypto store.
async fn owner_facts(client: &Client, user: &UserId) -> anyhow::Result<(bool, usize)> {
    let enc = client.encryption();
    let has_identity = enc.get_user_identity(user).await?.is_some();
    let devices = enc
        .get_user_devices(user)
        .await?
        .devices()
        .filter(|d| !d.is_dehydrated())
        .count();
    Ok((has_identity, devices))
}

/// Whether a decrypted timeline event comes from a device `policy` trusts.
///
/// `false` means: drop the event, it is neither an answer nor a command. The decision is
/// logged at info level with its reason only (no sender, device, room or event id). A
/// store error counts as untrusted under `cross-signed` (fail closed).
pub async fn admit(room: &Room, event: &TimelineEvent, policy: DeviceTrust) -> bool {
    if policy == DeviceTrust::Any {
        return true;
    }
    let info = event.encryption_info().map(|i| &**i);
    let mut link = link_of(info);
    let encrypted = info.is_some() || room.encryption_state().is_encrypted();
    let facts = match (info, link) {
        (Some(info), DeviceLink::Unsigned) => {
            let client = room.client();
            // The state above is from decryption time: the owner may have signed the device
            // since. The device id of an `UnsignedDevice` state is the one that established the
            // session, so looking it up is safe.
            if let Some(device_id) = &info.sender_device
                && let Ok(Some(device)) = client
                    .encryption()
                    .get_device(&info.sender, device_id)
                    .await
                && device.is_cross_signed_by_owner()
            {
                link = DeviceLink::CrossSigned;
            }
            match owner_facts(&client, &info.sender).await {
                Ok((owner_has_identity, owner_devices)) => DeviceFacts {
                    link,
                    owner_has_identity,
                    owner_devices,
                },
                Err(e) => {
                    // The error may name the sender: debug only.
                    debug!(error = %e, "device trust: crypto store error");
                    warn!("device trust: crypto store unreadable; event not taken");
                    return false;
                }
            }
        }
        _ => DeviceFacts {
            link,
            owner_has_identity: false,
            owner_devices: 0,
        },
    };
    match judge(policy, facts, encrypted) {
        Ok(()) => true,
        Err(why) => {
            info!(
                reason = why.as_str(),
                "event from an untrusted device ignored"
            );
            false
        }
    }
}

/// Blacklists the devices of `room`'s members that `policy` does not trust, and un-blacklists
/// those it trusts again, so the room key of the bot's next message reaches only trusted
/// devices. Call right before sending into the room.
///
/// Under `any` it only lifts blacklistings (the bot blacklists nothing else, so any
/// blacklisting is its own from an earlier `cross-signed` run). Returns how many devices are
/// withheld from.
pub async fn withhold_keys(room: &Room, policy: DeviceTrust) -> anyhow::Result<usize> {
    let client = room.client();
    let own = client.user_id().map(ToOwned::to_owned);
    let members = room
        .members_no_sync(RoomMemberships::JOIN | RoomMemberships::INVITE)
        .await?;
    let mut withheld = 0;
    let mut changed = 0;
    let enc = client.encryption();
    for member in members {
        let user = member.user_id();
        let owner_has_identity = enc.get_user_identity(user).await?.is_some();
        let devices: Vec<_> = enc.get_user_devices(user).await?.devices().collect();
        let owner_devices = devices.iter().filter(|d| !d.is_dehydrated()).count();
        for device in devices {
            if own.as_deref() == Some(user) && client.device_id() == Some(device.device_id()) {
                continue;
            }
            let facts = DeviceFacts {
                link: if device.is_cross_signed_by_owner() {
                    DeviceLink::CrossSigned
                } else {
                    DeviceLink::Unsigned
                },
                owner_has_identity,
                owner_devices,
            };
            // Dehydrated devices are left to the SDK, which withholds from unsigned ones.
            let trusted = device.is_dehydrated() || judge(policy, facts, true).is_ok();
            let blacklisted = device.local_trust_state() == LocalTrust::BlackListed;
            match (trusted, blacklisted) {
                (false, false) => {
                    device.set_local_trust(LocalTrust::BlackListed).await?;
                    changed += 1;
                }
                (true, true) => {
                    device.set_local_trust(LocalTrust::Unset).await?;
                    changed += 1;
                }
                _ => {}
            }
            if !trusted {
                withheld += 1;
            }
        }
    }
    if changed > 0 {
        debug!(
            changed,
            withheld, "device trust: room key recipients updated"
        );
    }
    Ok(withheld)
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrix_sdk::deserialized_responses::{AlgorithmInfo, DeviceLinkProblem};
    use matrix_sdk::ruma::{owned_device_id, owned_user_id};

    const CS: DeviceTrust = DeviceTrust::CrossSigned;
    const ANY: DeviceTrust = DeviceTrust::Any;

    fn facts(link: DeviceLink, owner_has_identity: bool, owner_devices: usize) -> DeviceFacts {
        DeviceFacts {
            link,
            owner_has_identity,
            owner_devices,
        }
    }

    #[test]
    fn cross_signed_devices_are_trusted() {
        for devices in [1, 2, 5] {
            assert_eq!(
                judge(CS, facts(DeviceLink::CrossSigned, true, devices), true),
                Ok(())
            );
        }
    }

    #[test]
    fn unsigned_device_of_a_user_with_identity_is_refused() {
        assert_eq!(
            judge(CS, facts(DeviceLink::Unsigned, true, 1), true),
            Err(Distrust::NotCrossSigned)
        );
        assert_eq!(
            judge(CS, facts(DeviceLink::Unsigned, true, 2), true),
            Err(Distrust::NotCrossSigned)
        );
    }

    #[test]
    fn only_device_of_a_user_without_identity_is_trusted() {
        assert_eq!(
            judge(CS, facts(DeviceLink::Unsigned, false, 1), true),
            Ok(())
        );
        assert_eq!(
            judge(CS, facts(DeviceLink::Unsigned, false, 2), true),
            Err(Distrust::OneOfSeveralUnsigned)
        );
    }

    #[test]
    fn unknown_devices_and_changed_identities_are_refused() {
        assert_eq!(
            judge(CS, facts(DeviceLink::Unknown, false, 1), true),
            Err(Distrust::UnknownDevice)
        );
        assert_eq!(
            judge(CS, facts(DeviceLink::IdentityChanged, true, 1), true),
            Err(Distrust::IdentityChanged)
        );
    }

    #[test]
    fn plaintext_is_refused_only_in_encrypted_rooms() {
        assert_eq!(
            judge(CS, facts(DeviceLink::Plaintext, false, 0), true),
            Err(Distrust::PlaintextInEncryptedRoom)
        );
        assert_eq!(
            judge(CS, facts(DeviceLink::Plaintext, false, 0), false),
            Ok(())
        );
    }

    #[test]
    fn any_trusts_every_device() {
        for link in [
            DeviceLink::CrossSigned,
            DeviceLink::Unsigned,
            DeviceLink::IdentityChanged,
            DeviceLink::Unknown,
            DeviceLink::Plaintext,
        ] {
            for (identity, devices) in [(false, 1), (false, 3), (true, 1), (true, 3)] {
                assert_eq!(judge(ANY, facts(link, identity, devices), true), Ok(()));
            }
        }
    }

    fn info(state: VerificationState) -> EncryptionInfo {
        EncryptionInfo {
            sender: owned_user_id!("@a:localhost"),
            sender_device: Some(owned_device_id!("DEV")),
            forwarder: None,
            algorithm_info: AlgorithmInfo::MegolmV1AesSha2 {
                curve25519_key: "key".to_owned(),
                sender_claimed_keys: Default::default(),
                session_id: None,
            },
            verification_state: state,
        }
    }

    #[test]
    fn decryption_states_map_to_links() {
        use VerificationLevel as L;
        let unverified = |l| Some(info(VerificationState::Unverified(l)));
        let cases = [
            (None, DeviceLink::Plaintext),
            (
                Some(info(VerificationState::Verified)),
                DeviceLink::CrossSigned,
            ),
            (unverified(L::UnverifiedIdentity), DeviceLink::CrossSigned),
            (unverified(L::UnsignedDevice), DeviceLink::Unsigned),
            (
                unverified(L::VerificationViolation),
                DeviceLink::IdentityChanged,
            ),
            (unverified(L::MismatchedSender), DeviceLink::Unknown),
            (
                unverified(L::None(DeviceLinkProblem::MissingDevice)),
                DeviceLink::Unknown,
            ),
            (
                unverified(L::None(DeviceLinkProblem::InsecureSource)),
                DeviceLink::Unknown,
            ),
        ];
        for (info, want) in cases {
            assert_eq!(link_of(info.as_ref()), want, "{info:?}");
        }
    }
}
