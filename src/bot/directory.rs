//! The room directory: which rooms the config names (pilot rooms, the admin room) and what
//! the homeserver told us about them, which room is whose DM, which DMs their participant has
//! joined, and which joins are under way. It owns that state and its locks; it never talks to
//! the homeserver itself (the bot resolves aliases and asks for memberships through its port
//! and records the answers here), so its rules are tested without one.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use matrix_sdk::ruma::{OwnedRoomId, OwnedRoomOrAliasId, OwnedUserId, RoomId};

use super::lock;
use crate::survey::Survey;

/// A configured room and, once known, its id.
#[derive(Debug, Clone)]
pub(super) struct KnownRoom {
    /// As the config names it (a room id or an alias).
    pub(super) configured: String,
    /// Its id, once resolved; after a room upgrade, the newest room.
    pub(super) id: Option<OwnedRoomId>,
    /// Rooms it replaced (upgrades followed), oldest first: still pilot rooms, since their
    /// members move to the new room one by one.
    pub(super) predecessors: Vec<OwnedRoomId>,
}

impl KnownRoom {
    /// A configured room; its id is known at once unless it was given as an alias.
    fn new(configured: &OwnedRoomOrAliasId) -> KnownRoom {
        KnownRoom {
            configured: configured.to_string(),
            id: OwnedRoomId::try_from(configured.clone()).ok(),
            predecessors: Vec::new(),
        }
    }

    /// Whether `id` is this room or one it replaced.
    fn is(&self, id: &RoomId) -> bool {
        self.id.as_deref() == Some(id) || self.predecessors.iter().any(|p| p == id)
    }
}

/// The rooms the config names, resolved to ids as far as the homeserver knows them.
#[derive(Debug, Default)]
struct Configured {
    pilot: Vec<KnownRoom>,
    admin: Option<KnownRoom>,
}

impl Configured {
    fn all(&self) -> impl Iterator<Item = &KnownRoom> {
        self.pilot.iter().chain(self.admin.as_ref())
    }
}

/// The bot's rooms; cheap to share behind the bot's handle.
#[derive(Debug, Default)]
pub(super) struct Directory {
    configured: Mutex<Configured>,
    /// Rooms a join task is working on (one task per room).
    joining: Mutex<HashSet<OwnedRoomId>>,
    /// Participants' DM rooms → the participant.
    dm_users: Mutex<HashMap<OwnedRoomId, OwnedUserId>>,
    /// DM rooms whose participant was seen joined (until a membership change says
    /// otherwise): the sender's join check without a state-store query per message.
    joined_dms: Mutex<HashSet<OwnedRoomId>>,
    /// Rooms the bot no longer posts in (a DM someone else joined, a room it was removed
    /// from): what is queued for them is dropped.
    abandoned: Mutex<HashSet<OwnedRoomId>>,
    /// DMs whose participant left, since when (their queue is dropped after a grace time).
    left: Mutex<HashMap<OwnedRoomId, std::time::Instant>>,
}

impl Directory {
    /// The directory of the configured `pilot` rooms and `admin` room.
    pub(super) fn new(pilot: &[OwnedRoomOrAliasId], admin: Option<&OwnedRoomOrAliasId>) -> Self {
        Directory {
            configured: Mutex::new(Configured {
                pilot: pilot.iter().map(KnownRoom::new).collect(),
                admin: admin.map(KnownRoom::new),
            }),
            ..Directory::default()
        }
    }

    /// Whether `id` is a configured pilot room.
    pub(super) fn is_pilot(&self, id: &RoomId) -> bool {
        lock(&self.configured).pilot.iter().any(|r| r.is(id))
    }

    /// Whether `id` is the configured admin room.
    pub(super) fn is_admin_room(&self, id: &RoomId) -> bool {
        lock(&self.configured)
            .admin
            .as_ref()
            .is_some_and(|r| r.is(id))
    }

    /// Follows a room upgrade: a configured room `old` is now `new` (its old id stays a
    /// configured room too). False if `old` is no configured room's current id.
    pub(super) fn follow(&self, old: &RoomId, new: &RoomId) -> bool {
        let mut c = lock(&self.configured);
        let Configured { pilot, admin } = &mut *c;
        let mut followed = false;
        for r in pilot.iter_mut().chain(admin.as_mut()) {
            if r.id.as_deref() == Some(old) && old != new && !r.is(new) {
                r.predecessors.push(old.to_owned());
                r.id = Some(new.to_owned());
                followed = true;
            }
        }
        followed
    }

    /// The current ids of the configured rooms (to look for upgrades at start).
    pub(super) fn configured_ids(&self) -> Vec<OwnedRoomId> {
        lock(&self.configured)
            .all()
            .filter_map(|r| r.id.clone())
            .collect()
    }

    /// Whether `id` (with its canonical `alias`, if the invite carries one) is a room the
    /// config names: an invite's stripped state may carry the alias before it resolves.
    pub(super) fn is_configured(&self, id: &RoomId, alias: Option<&str>) -> bool {
        let c = lock(&self.configured);
        c.all()
            .any(|r| r.is(id) || Some(r.configured.as_str()) == alias)
    }

    /// The configured rooms whose id is not known yet (aliases to resolve).
    pub(super) fn unresolved(&self) -> Vec<String> {
        lock(&self.configured)
            .all()
            .filter(|r| r.id.is_none())
            .map(|r| r.configured.clone())
            .collect()
    }

    /// Records what the alias `configured` resolved to.
    pub(super) fn resolved(&self, configured: &str, id: &RoomId) {
        let mut c = lock(&self.configured);
        let Configured { pilot, admin } = &mut *c;
        for r in pilot
            .iter_mut()
            .chain(admin.as_mut())
            .filter(|r| r.configured == configured)
        {
            r.id = Some(id.to_owned());
        }
    }

    /// The configured pilot rooms, as far as they are resolved.
    pub(super) fn pilot_rooms(&self) -> Vec<KnownRoom> {
        lock(&self.configured).pilot.clone()
    }

    /// The ids of the pilot rooms `survey` asks (all pilot rooms if it names none), as far as
    /// they are resolved.
    pub(super) fn pilot_room_ids(&self, survey: &Survey) -> Vec<OwnedRoomId> {
        lock(&self.configured)
            .pilot
            .iter()
            .filter(|r| {
                survey.audience.is_empty()
                    || survey.audience.iter().any(|a| {
                        *a == r.configured
                            || r.id
                                .iter()
                                .chain(&r.predecessors)
                                .any(|id| id.as_str() == a)
                    })
            })
            .flat_map(|r| r.id.iter().chain(&r.predecessors).cloned())
            .collect()
    }

    /// Marks a join of `id` as under way; false if one already is.
    pub(super) fn start_joining(&self, id: &RoomId) -> bool {
        lock(&self.joining).insert(id.to_owned())
    }

    /// The join of `id` ended (joined or given up).
    pub(super) fn done_joining(&self, id: &RoomId) {
        lock(&self.joining).remove(id);
    }

    /// The participant whose DM `room` is.
    pub(super) fn dm_user(&self, room: &RoomId) -> Option<OwnedUserId> {
        lock(&self.dm_users).get(room).cloned()
    }

    /// Records `room` as `user`'s DM (unless the bot gave it up).
    pub(super) fn remember_dm(&self, room: OwnedRoomId, user: OwnedUserId) {
        if !self.is_abandoned(&room) {
            lock(&self.dm_users).insert(room, user);
        }
    }

    /// `room` is no longer anyone's DM and gets nothing more (someone else joined it, or the
    /// bot was removed from it).
    pub(super) fn abandon(&self, room: &RoomId) {
        lock(&self.dm_users).remove(room);
        lock(&self.joined_dms).remove(room);
        lock(&self.abandoned).insert(room.to_owned());
    }

    /// Whether the bot gave `room` up.
    pub(super) fn is_abandoned(&self, room: &RoomId) -> bool {
        lock(&self.abandoned).contains(room)
    }

    /// The DM's participant left it (or came back: `false`).
    pub(super) fn note_left(&self, room: &RoomId, left: bool) {
        let mut map = lock(&self.left);
        if left {
            map.entry(room.to_owned())
                .or_insert_with(std::time::Instant::now);
        } else {
            map.remove(room);
        }
    }

    /// Since when the DM's participant is gone, if they left it.
    pub(super) fn left_since(&self, room: &RoomId) -> Option<std::time::Instant> {
        lock(&self.left).get(room).copied()
    }

    /// Whether the DM's participant was seen joined.
    pub(super) fn dm_seen_joined(&self, room: &RoomId) -> bool {
        lock(&self.joined_dms).contains(room)
    }

    /// Records a membership change of a DM's participant (or the bot leaving the room).
    pub(super) fn set_dm_joined(&self, room: &RoomId, joined: bool) {
        let mut set = lock(&self.joined_dms);
        if joined {
            set.insert(room.to_owned());
        } else {
            set.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::SurveyDefaults;

    fn id(s: &str) -> OwnedRoomId {
        s.try_into().expect("a room id")
    }

    fn conf(s: &str) -> OwnedRoomOrAliasId {
        s.try_into().expect("a room id or alias")
    }

    #[test]
    fn configured_rooms_by_id_by_alias_and_after_resolving() {
        let d = Directory::new(
            &[conf("!pilot:x"), conf("#team:x")],
            Some(&conf("!admin:x")),
        );
        assert!(d.is_pilot(&id("!pilot:x")) && !d.is_pilot(&id("!admin:x")));
        assert!(d.is_admin_room(&id("!admin:x")) && !d.is_admin_room(&id("!pilot:x")));
        assert!(!d.is_configured(&id("!other:x"), None));
        // An invite that carries the alias counts before the alias resolves.
        assert!(d.is_configured(&id("!team:x"), Some("#team:x")));
        assert!(!d.is_pilot(&id("!team:x")));
        assert_eq!(d.unresolved(), vec!["#team:x".to_owned()]);
        d.resolved("#team:x", &id("!team:x"));
        assert!(d.is_pilot(&id("!team:x")) && d.unresolved().is_empty());
    }

    #[test]
    fn a_survey_asks_the_pilot_rooms_it_names() {
        let d = Directory::new(&[conf("!a:x"), conf("#b:x")], None);
        d.resolved("#b:x", &id("!b:x"));
        let text = "id = \"s\"\ntitle = { de = \"S\", en = \"S\" }\nintro = { de = \"I\", en = \"I\" }\n\
                    [schedule]\nmanual = true\n\n[[blocks]]\ntype = \"likert\"\nid = \"q\"\n\
                    text = { de = \"Q\", en = \"Q\" }\n";
        let mut survey = crate::survey::parse_str("s.toml", text, &SurveyDefaults::default())
            .expect("a valid survey");
        assert_eq!(d.pilot_room_ids(&survey), vec![id("!a:x"), id("!b:x")]);
        survey.audience = vec!["#b:x".into()];
        assert_eq!(d.pilot_room_ids(&survey), vec![id("!b:x")]);
    }

    #[test]
    fn an_upgraded_room_is_followed_and_its_old_id_still_counts() {
        let d = Directory::new(&[conf("!old:x")], Some(&conf("!admin:x")));
        assert!(
            !d.follow(&id("!other:x"), &id("!new:x")),
            "not a configured room"
        );
        assert!(d.follow(&id("!old:x"), &id("!new:x")));
        assert!(!d.follow(&id("!old:x"), &id("!new:x")), "followed once");
        assert!(d.is_pilot(&id("!new:x")) && d.is_pilot(&id("!old:x")));
        assert!(d.is_configured(&id("!new:x"), None));
        assert!(
            d.follow(&id("!new:x"), &id("!newer:x")),
            "chains are followed"
        );
        assert_eq!(
            d.configured_ids(),
            vec![id("!newer:x"), id("!admin:x")],
            "current ids"
        );
        let text = "id = \"s\"\ntitle = { de = \"S\", en = \"S\" }\nintro = { de = \"I\", en = \"I\" }\n\
                    [schedule]\nmanual = true\n\n[[blocks]]\ntype = \"likert\"\nid = \"q\"\n\
                    text = { de = \"Q\", en = \"Q\" }\n";
        let mut survey = crate::survey::parse_str("s.toml", text, &SurveyDefaults::default())
            .expect("a valid survey");
        survey.audience = vec!["!old:x".into()];
        assert_eq!(
            d.pilot_room_ids(&survey),
            vec![id("!newer:x"), id("!old:x"), id("!new:x")],
            "the audience is the new room's members and those not moved yet"
        );
        assert!(d.follow(&id("!admin:x"), &id("!admin2:x")));
        assert!(d.is_admin_room(&id("!admin2:x")));
    }

    #[test]
    fn dms_and_joins() {
        let d = Directory::default();
        let (room, user) = (id("!dm:x"), OwnedUserId::try_from("@p:x").expect("user"));
        assert_eq!(d.dm_user(&room), None);
        d.remember_dm(room.clone(), user.clone());
        assert_eq!(d.dm_user(&room), Some(user));
        assert!(!d.dm_seen_joined(&room));
        d.set_dm_joined(&room, true);
        assert!(d.dm_seen_joined(&room));
        d.set_dm_joined(&room, false);
        d.note_left(&room, true);
        assert!(d.left_since(&room).is_some());
        d.note_left(&room, false);
        assert!(d.left_since(&room).is_none());
        d.set_dm_joined(&room, true);
        d.abandon(&room);
        assert!(d.is_abandoned(&room) && d.dm_user(&room).is_none() && !d.dm_seen_joined(&room));
        d.remember_dm(room.clone(), OwnedUserId::try_from("@p:x").expect("user"));
        assert_eq!(
            d.dm_user(&room),
            None,
            "an abandoned room is nobody's DM again"
        );
        assert!(!d.dm_seen_joined(&room));
        assert!(d.start_joining(&room) && !d.start_joining(&room));
        d.done_joining(&room);
        assert!(d.start_joining(&room));
    }
}
