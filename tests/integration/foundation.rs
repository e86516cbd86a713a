//! Issue 2: the bot lives in encrypted rooms, keeps its device, takes admin commands.

use std::process::Command;
use std::time::Duration;

use matrix_sdk::ruma::events::room::member::MembershipState;
use pulsebot_sim::sim::SimUser;

use crate::helpers::{BotSetup, WAIT, bin, contains, files_under, hs, room_with_bot};

async fn bot_devices(
    admin: &SimUser,
    bot: &BotSetup,
) -> Vec<matrix_sdk::encryption::identities::Device> {
    let enc = admin.client.encryption();
    // Force a fresh /keys/query so the answer reflects what the bot uploaded last.
    let _ = enc.request_user_identity(&bot.user_id).await;
    enc.get_user_devices(&bot.user_id)
        .await
        .expect("devices")
        .devices()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_invites_bot_and_gets_an_encrypted_status_reply() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let process = bot.start();
    let room = room_with_bot(&admin, &bot).await;

    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    let reply = admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(reply.encrypted, "the reply must be end-to-end encrypted");
    assert_eq!(reply.sender, bot.user_id);
    assert!(
        reply
            .body
            .contains(concat!("pulsebot ", env!("CARGO_PKG_VERSION"))),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains("Pilot-Räume beigetreten: 0/0"),
        "{}",
        reply.body
    );

    let ev = admin
        .send_text(room.room_id(), "!pulse help")
        .await
        .expect("sent");
    let help = admin.wait_for_reply(&ev, WAIT).await.expect("help reply");
    assert!(help.body.contains("!pulse status"), "{}", help.body);

    // Element shows the bot's device as verified by its owner.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let devices = bot_devices(&admin, &bot).await;
        if devices.len() == 1 && devices[0].is_cross_signed_by_owner() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bot device never cross-signed: {}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let (status, took) = process.stop().await;
    assert!(status.success(), "clean shutdown exits 0: {status:?}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");

    // Neither the password nor the passphrase is stored in clear text anywhere.
    let files = files_under(&bot.store());
    assert!(
        files.len() >= 3,
        "store has the session, the SDK store and the lock: {files:?}"
    );
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !contains(&bytes, bot.password.as_bytes()),
            "password in {}",
            f.display()
        );
        assert!(
            !contains(&bytes, bot.passphrase.as_bytes()),
            "passphrase in {}",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_the_device_and_answers_a_missed_command_once() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let process = bot.start();
    let room = room_with_bot(&admin, &bot).await;
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    admin.wait_for_reply(&ev, WAIT).await.expect("first reply");
    let before: Vec<_> = bot_devices(&admin, &bot)
        .await
        .iter()
        .map(|d| d.device_id().to_owned())
        .collect();
    assert_eq!(before.len(), 1);
    let (status, _) = process.stop().await;
    assert!(status.success());

    let missed = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent while down");
    let process = bot.start();
    admin
        .wait_for_reply(&missed, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    let fresh = admin
        .send_text(room.room_id(), "!pulse help")
        .await
        .expect("sent");
    admin
        .wait_for_reply(&fresh, WAIT)
        .await
        .expect("new command answered after restart");

    let after: Vec<_> = bot_devices(&admin, &bot)
        .await
        .iter()
        .map(|d| d.device_id().to_owned())
        .collect();
    assert_eq!(before, after, "the same single device after a restart");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let replies = admin
        .inbox()
        .iter()
        .filter(|m| m.in_reply_to.as_ref() == Some(&missed))
        .count();
    assert_eq!(replies, 1, "the missed command is answered exactly once");
    assert!(process.log().contains("session restored"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_sent_while_down_beyond_the_timeline_limit_are_all_answered_once() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "\n[sync]\ntimeline_limit = 3\n").await;
    let process = bot.start();
    let room = room_with_bot(&admin, &bot).await;
    let (status, _) = process.stop().await;
    assert!(status.success());

    let mut sent = Vec::new();
    for _ in 0..12 {
        sent.push(
            admin
                .send_text(room.room_id(), "!pulse status")
                .await
                .expect("sent"),
        );
    }
    let process = bot.start();
    for ev in &sent {
        admin
            .wait_for_reply(ev, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let inbox = admin.inbox();
    for ev in &sent {
        let n = inbox
            .iter()
            .filter(|m| m.in_reply_to.as_ref() == Some(ev))
            .count();
        assert_eq!(n, 1, "each command answered exactly once");
    }
    assert!(
        process.log().contains("filled a limited timeline"),
        "{}",
        process.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_can_neither_invite_the_bot_nor_command_it() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let stranger = SimUser::register(hs(), "stranger").await.expect("stranger");
    let bot = BotSetup::new(&[&admin], "").await;
    let process = bot.start();

    // An invite from a non-admin into an unlisted room is declined.
    let theirs = stranger
        .create_encrypted_room("not a pilot room", &[&bot.user_id])
        .await
        .expect("room");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let room = stranger.client.get_room(theirs.room_id()).expect("room");
        let m = room.get_member_no_sync(&bot.user_id).await.expect("member");
        if m.as_ref().map(|m| m.membership()) == Some(&MembershipState::Leave) {
            break;
        }
        assert_ne!(
            m.as_ref().map(|m| m.membership()),
            Some(&MembershipState::Join),
            "bot joined a stranger's room"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "invite never declined:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A non-admin's command in a room the bot is in: refused, no status.
    let room = admin
        .create_encrypted_room("shared", &[&bot.user_id, &stranger.user_id])
        .await
        .expect("room");
    admin
        .wait_for_join(room.room_id(), &bot.user_id, WAIT)
        .await
        .expect("bot joins");
    stranger
        .client
        .join_room_by_id(room.room_id())
        .await
        .expect("stranger joins");
    admin
        .wait_for_join(room.room_id(), &stranger.user_id, WAIT)
        .await
        .expect("joined");
    // The stranger's own client must have synced the room (members, encryption) before it
    // sends, or the bot may not get the room key for the very first message.
    stranger
        .wait_for_join(room.room_id(), &bot.user_id, WAIT)
        .await
        .expect("stranger sees the bot");
    let mut reply = None;
    for _ in 0..2 {
        // A message sent in the instant after joining can still reach the bot undecryptable
        // (a client-side key-sharing race this test is not about); then the stranger asks again.
        let ev = stranger
            .send_text(room.room_id(), "!pulse status")
            .await
            .expect("sent");
        if let Ok(r) = stranger.wait_for_reply(&ev, Duration::from_secs(20)).await {
            reply = Some(r);
            break;
        }
    }
    let reply = reply.unwrap_or_else(|| panic!("no reply to the stranger\n{}", process.log()));
    assert!(reply.body.contains("vorbehalten"), "{}", reply.body);
    assert!(
        !reply.body.contains("pulsebot 0."),
        "no status for strangers: {}",
        reply.body
    );
    assert!(process.log().contains("admin command refused"));

    // The admin's own command in that team room: not a 1:1 chat (read from the member list,
    // not the sync's summary counts, which are empty here), so no status, only the pointer to
    // the admin room.
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    let reply = admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("no reply to the admin: {e}\n{}", process.log()));
    assert!(reply.body.contains("Admin-Raum"), "{}", reply.body);
    assert!(
        !reply.body.contains("pulsebot 0."),
        "status in a team room: {}",
        reply.body
    );
}

/// Issue 18: on a homeserver behind an identity provider the bot logs in with an access token
/// (and its device), not a password; once the session is saved the token file may go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_logs_the_bot_in_without_a_password() {
    use std::os::unix::fs::PermissionsExt;
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let token = hs()
        .access_token(bot.user_id.as_str(), &bot.password, "PULSEBOTTOKEN")
        .await
        .expect("token");
    let token_file = bot.dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write");
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::remove_file(bot.dir.path().join("password")).expect("no password");
    let text = std::fs::read_to_string(&bot.config).expect("config");
    std::fs::write(
        &bot.config,
        text.replace(
            "password_file = \"password\"",
            "access_token_file = \"token\"",
        ),
    )
    .expect("config");

    let process = bot.start();
    let room = room_with_bot(&admin, &bot).await;
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    let reply = admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(reply.encrypted, "the reply must be end-to-end encrypted");
    // The bot took over the token's device, and cross-signed it (a first upload needs no
    // password on Synapse).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let devices = bot_devices(&admin, &bot).await;
        if devices.len() == 1
            && devices[0].device_id().as_str() == "PULSEBOTTOKEN"
            && devices[0].is_cross_signed_by_owner()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token's device never came up cross-signed: {}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, _) = process.stop().await;
    assert!(status.success());

    // The token file removed: validate warns but passes, and the bot restores its session.
    std::fs::remove_file(&token_file).expect("rm token");
    let out = Command::new(bin())
        .arg("--config")
        .arg(&bot.config)
        .arg("validate")
        .env_remove("PULSEBOT_ACCESS_TOKEN")
        .output()
        .expect("validate");
    let stderr =
        String::from_utf8_lossy(&out.stderr).into_owned() + &*String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("saved session"), "{stderr}");
    let process = bot.start();
    let ev = admin
        .send_text(room.room_id(), "!pulse help")
        .await
        .expect("sent");
    admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(process.log().contains("session restored"));
    let (status, _) = process.stop().await;
    assert!(status.success());
    let files = files_under(&bot.store());
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !contains(&bytes, token.as_bytes()),
            "token in clear in {}",
            f.display()
        );
    }
}

/// Issue 18: a lost data directory is not a new identity. The first start leaves a recovery
/// key; `pulsebot recover` on an empty data directory logs in as a new device, restores the
/// cross-signing identity (participants see the same verified bot) and the room keys (old
/// messages decrypt), and the bot then answers commands again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_data_directory_is_recovered_with_the_recovery_key() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let process = bot.start();
    let room = room_with_bot(&admin, &bot).await;
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    let key_file = bot.store().join("recovery-key.txt");
    process.wait_for_log("move it to safe keeping").await;
    assert!(key_file.exists(), "{}", process.log());
    let master_before = admin
        .client
        .encryption()
        .get_user_identity(&bot.user_id)
        .await
        .expect("identity")
        .expect("the bot has a cross-signing identity")
        .master_key()
        .get_first_key()
        .map(|k| k.to_base64());
    let old_device = bot_devices(&admin, &bot).await[0].device_id().to_owned();
    let (status, _) = process.stop().await;
    assert!(status.success());

    // The disk is lost: only the recovery key (kept elsewhere) and the config survive.
    let safe = bot.dir.path().join("safe-recovery-key.txt");
    std::fs::rename(&key_file, &safe).expect("key to safe keeping");
    std::fs::remove_dir_all(bot.store()).expect("wipe");
    let out = Command::new(bin())
        .arg("--config")
        .arg(&bot.config)
        .arg("recover")
        .arg("--recovery-key-file")
        .arg(&safe)
        .output()
        .expect("recover runs");
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &*String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("Identity restored"), "{printed}");
    // The admin room's history decrypts with the restored room keys.
    assert!(printed.contains(": 1 of 1 encrypted rooms"), "{printed}");

    let process = bot.start();
    let ev = admin
        .send_text(room.room_id(), "!pulse help")
        .await
        .expect("sent");
    let reply = admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(reply.encrypted);
    // The same identity, and the new device is verified by it.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let devices = bot_devices(&admin, &bot).await;
        let new = devices.iter().find(|d| *d.device_id() != *old_device);
        if new.is_some_and(|d| d.is_cross_signed_by_owner()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the recovered device never came up cross-signed: {}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let master_after = admin
        .client
        .encryption()
        .get_user_identity(&bot.user_id)
        .await
        .expect("identity")
        .expect("identity after recovery")
        .master_key()
        .get_first_key()
        .map(|k| k.to_base64());
    assert_eq!(
        master_before, master_after,
        "the same cross-signing identity"
    );
    // No second recovery key: the restored one stays the one.
    assert!(!key_file.exists(), "{}", process.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_store_refuses_to_start() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let first = bot.start();
    first.wait_for_log("pulsebot running").await;
    let second = bot.start();
    let (status, log) = second.wait_exit().await;
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("another pulsebot instance is already using the data directory"),
        "{log}"
    );
    // The first one is unharmed.
    let room = room_with_bot(&admin, &bot).await;
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    admin
        .wait_for_reply(&ev, WAIT)
        .await
        .expect("first instance still answers");
    drop(first);
}

/// Runs `pulsebot validate` on config text; returns exit code and stderr.
fn validate(text: &str, files: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, content) in files {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.path().join(name), content).expect("write");
        std::fs::set_permissions(
            dir.path().join(name),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text).expect("write");
    let out = Command::new(bin())
        .arg("validate")
        .arg("--config")
        .arg(&config)
        .env_remove("PULSEBOT_PASSWORD")
        .env_remove("PULSEBOT_STORE_PASSPHRASE")
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_config_error_exits_2_and_names_the_key() {
    let good = "[matrix]\nhomeserver = \"http://127.0.0.1:1\"\nuser = \"@bot:localhost\"\n\
                password_file = \"pw\"\n\n[bot]\nadmins = [\"@admin:localhost\"]\n\
                timezone = \"Europe/Berlin\"\n\n[store]\npassphrase_file = \"pp\"\n";
    let secrets = [("pw", "secret"), ("pp", "a long passphrase")];
    let (code, err) = validate(good, &secrets);
    assert_eq!(code, Some(0), "{err}");

    type Case<'a> = (&'a str, String, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "unknown key",
            format!("{good}colour = \"blue\"\n"),
            &secrets,
            "key `store.colour`: unknown field",
        ),
        (
            "missing key",
            good.replace("user = \"@bot:localhost\"\n", ""),
            &secrets,
            "key `matrix.user`: missing",
        ),
        (
            "wrong type",
            good.replace("[\"@admin:localhost\"]", "42"),
            &secrets,
            "key `bot.admins`: invalid type",
        ),
        (
            "unreadable secret file",
            good.to_string(),
            &[("pp", "x")],
            "key `matrix.password_file`: cannot read the secret file",
        ),
        (
            "malformed Matrix id",
            good.replace("@admin:localhost", "admin"),
            &secrets,
            "key `bot.admins`: malformed Matrix id `admin`",
        ),
        (
            "unknown time zone",
            good.replace("Europe/Berlin", "Mars/Olympus"),
            &secrets,
            "key `bot.timezone`: unknown time zone `Mars/Olympus`",
        ),
    ];
    for (what, text, files, expected) in cases {
        let (code, err) = validate(text, files);
        assert_eq!(code, Some(2), "{what}: {err}");
        assert!(
            err.contains(expected),
            "{what}: expected {expected:?} in:\n{err}"
        );
        assert!(err.contains("config.toml"), "{what}: names the file: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecryptable_events_are_counted_and_logged_not_dropped() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let process = bot.start();
    // A plain room, so the bogus encrypted event goes out exactly as written.
    let mut req = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
    req.invite = vec![bot.user_id.clone()];
    let room = admin.client.create_room(req).await.expect("room");
    admin
        .wait_for_join(room.room_id(), &bot.user_id, WAIT)
        .await
        .expect("joins");
    room.send_raw(
        "m.room.encrypted",
        serde_json::json!({
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnAcBogus",
            "sender_key": "c2VuZGVyIGtleSB0aGF0IGRvZXMgbm90IGV4aXN0",
            "session_id": "c2Vzc2lvbiB0aGF0IGRvZXMgbm90IGV4aXN0",
            "device_id": "FAKEDEVICE",
        }),
    )
    .await
    .expect("sent");
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    let reply = admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(
        reply.body.contains("Nicht entschlüsselbare Nachrichten: 1"),
        "{}",
        reply.body
    );
    let log = process.log();
    assert!(
        log.contains("undecryptable event") && log.contains("FAKEDEVICE"),
        "{log}"
    );
    assert!(
        !log.contains(admin.user_id.as_str()),
        "no Matrix id of the sender in the log"
    );
}
