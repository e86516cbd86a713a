//! Who may use the control socket: the bot's own user, root, and the members of the data
//! directory's group (the operators; `pulsebot` in the packaged layout).
//!
//! Two lines of defence. The file system: the socket is 0660 with the data directory's group,
//! and the data directory is 0710, so the group may pass through it to the socket but can
//! neither list it nor open anything else in it (every entry must be private, 0700/0600, or
//! the group gets nothing). The kernel refuses everybody else at `connect`, and the CLI then
//! names the group ([`denied_message`]). The peer check: the bot reads the peer's credentials
//! (`SO_PEERCRED`, `SO_PEERGROUPS`) and refuses a peer that is neither, for a socket whose mode
//! someone loosened. Nothing here reads or changes a file other than the socket and the mode
//! of the data directory itself.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tracing::warn;

/// The peer of one connection, as the kernel saw it at `connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Peer {
    /// The peer's user id.
    pub uid: u32,
    /// The peer's primary group id.
    pub gid: u32,
    /// The peer's supplementary group ids (empty where the kernel does not tell).
    pub groups: Vec<u32>,
}

/// After `bind`: gives the socket and the data directory to the data directory's group, if
/// every entry in the directory is private. Returns the group admitted, or `None` (socket
/// 0600: the bot's own user and root only) with a warning that says why and what to do.
pub(super) fn share_with_group(dir: &Path, socket: &Path) -> std::io::Result<Option<u32>> {
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    let gid = std::fs::metadata(dir)?.gid();
    // A new socket already has the bot's group; chown only for another group (the unit's
    // system-call filter forbids chown, and there the groups are the same).
    // SAFETY: getegid has no preconditions.
    if gid != unsafe { libc::getegid() }
        && let Err(e) = std::os::unix::fs::chown(socket, None, Some(gid))
    {
        warn!(error = %e, group = %group_name(gid), "control socket kept for the bot's own user: cannot give it to the data directory's group");
        return Ok(None);
    }
    if let Some((entry, mode)) = first_open_entry(dir, socket)? {
        warn!(
            entry = %entry,
            mode = %format!("{mode:04o}"),
            fix = %format!("chmod -R go= {}", dir.display()),
            "control socket kept for the bot's own user: the data directory holds an entry others may read"
        );
        return Ok(None);
    }
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o710))?;
    Ok(Some(gid))
}

/// The first entry of `dir` (other than the socket) that its group or others may use: with
/// the directory 0710 the group could open such an entry by name.
fn first_open_entry(dir: &Path, socket: &Path) -> std::io::Result<Option<(String, u32)>> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.path() == socket {
            continue;
        }
        // Not followed: a symbolic link is 0777 and counts as open (the group could follow it).
        let mode = entry.metadata()?.mode() & 0o7777;
        let is_link = entry.file_type()?.is_symlink();
        if is_link || mode & 0o077 != 0 {
            return Ok(Some((
                entry.file_name().to_string_lossy().into_owned(),
                mode,
            )));
        }
    }
    Ok(None)
}

/// The credentials of the peer of `stream`.
pub(super) fn peer(stream: &tokio::net::UnixStream) -> std::io::Result<Peer> {
    use std::os::fd::AsRawFd;
    let cred = stream.peer_cred()?;
    Ok(Peer {
        uid: cred.uid(),
        gid: cred.gid(),
        groups: peer_groups(stream.as_raw_fd()),
    })
}

/// `SO_PEERGROUPS` (Linux 4.13): the supplementary groups of the peer at `connect`. Its value
/// is 59 on the architectures that use the generic socket options (not in the libc crate).
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64"
    )
))]
fn peer_groups(fd: std::os::fd::RawFd) -> Vec<u32> {
    const SO_PEERGROUPS: libc::c_int = 59;
    let mut groups = vec![0 as libc::gid_t; 1024];
    let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
    // SAFETY: the buffer is valid for `len` bytes; the kernel writes at most that many and
    // sets `len` to what it wrote.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_PEERGROUPS,
            groups.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Vec::new();
    }
    groups.truncate(len as usize / std::mem::size_of::<libc::gid_t>());
    groups
}

/// Elsewhere only the primary group counts.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64"
    )
)))]
fn peer_groups(_fd: std::os::fd::RawFd) -> Vec<u32> {
    Vec::new()
}

/// Whether `peer` may use the socket of a bot running as `me` that admits `group`.
pub(super) fn admitted(peer: &Peer, me: u32, group: Option<u32>) -> bool {
    // Root can read the data directory anyway; refusing it would protect nothing.
    peer.uid == me
        || peer.uid == 0
        || group.is_some_and(|g| peer.gid == g || peer.groups.contains(&g))
}

/// The bot's answer to a peer it refuses.
pub(super) fn refusal(group: Option<u32>) -> String {
    match group {
        Some(g) => {
            let name = group_name(g);
            format!(
                "refused: the control socket admits the bot's own user and members of group `{name}`; \
                 add your user to it (`adduser USER {name}`) and log in again"
            )
        }
        None => "refused: the control socket admits only the bot's own user (the data directory \
                 holds entries others may read, see the bot's log)"
            .into(),
    }
}

/// The CLI's message when the kernel refused it the socket (or the way to it).
pub(super) fn denied_message(data_dir: &Path, socket: &Path) -> String {
    let gid = std::fs::metadata(socket)
        .or_else(|_| std::fs::metadata(data_dir))
        .map(|m| m.gid());
    match gid {
        Ok(g) => {
            let name = group_name(g);
            format!(
                "permission denied on the bot's control socket {}: it admits the bot's own user and \
                 members of group `{name}`; add your user to it (`adduser USER {name}`) and log in again",
                socket.display()
            )
        }
        Err(_) => format!(
            "permission denied on the bot's control socket {}: run this as a member of the data \
             directory's group",
            socket.display()
        ),
    }
}

/// The name of group `gid`, or its number when it has none.
pub(super) fn group_name(gid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero `group` is a valid value to be filled in.
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use of `group`'s fields.
    let rc = unsafe { libc::getgrgid_r(gid, &mut group, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || group.gr_name.is_null() {
        return gid.to_string();
    }
    // SAFETY: getgrgid_r succeeded, so gr_name points to a NUL-terminated string inside `buf`.
    unsafe { std::ffi::CStr::from_ptr(group.gr_name) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer {
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn the_bot_root_and_the_group_are_admitted_nobody_else() {
        let (me, group) = (990, Some(990));
        assert!(admitted(&peer(990, 990, &[]), me, group), "the bot's user");
        assert!(admitted(&peer(0, 0, &[]), me, group), "root");
        assert!(
            admitted(&peer(1000, 1000, &[990]), me, group),
            "supplementary"
        );
        assert!(admitted(&peer(1000, 990, &[]), me, group), "primary group");
        assert!(!admitted(&peer(1000, 1000, &[27, 100]), me, group), "other");
        assert!(
            !admitted(&peer(1000, 990, &[990]), me, None),
            "no group shared"
        );
        assert!(
            admitted(&peer(990, 1, &[]), me, None),
            "own user without group"
        );
    }

    #[test]
    fn a_refusal_names_the_group_and_the_fix() {
        let text = refusal(Some(0));
        assert!(text.contains("group `root`"), "{text}");
        assert!(text.contains("adduser USER root"), "{text}");
        assert!(refusal(None).contains("only the bot's own user"));
    }

    #[test]
    fn a_private_directory_is_shared_with_its_group_an_open_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("control.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let private = dir.path().join("data");
        std::fs::create_dir(&private).expect("mkdir");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").mode() & 0o7777;
        let gid = std::fs::metadata(dir.path()).expect("stat").gid();

        assert_eq!(
            share_with_group(dir.path(), &socket).expect("share"),
            Some(gid)
        );
        assert_eq!(mode(&socket), 0o660);
        assert_eq!(mode(dir.path()), 0o710);
        assert_eq!(std::fs::metadata(&socket).expect("stat").gid(), gid);

        // A file the group may read (an older bot, a copy by hand) keeps the socket private.
        std::fs::write(dir.path().join("leftover"), "x").expect("write");
        std::fs::set_permissions(
            dir.path().join("leftover"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        assert_eq!(share_with_group(dir.path(), &socket).expect("share"), None);
        assert_eq!(mode(&socket), 0o600);
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(
            first_open_entry(dir.path(), &socket).expect("scan"),
            Some(("leftover".into(), 0o644))
        );
    }
}
