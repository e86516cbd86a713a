//! A simulated Matrix user: a real matrix-sdk client with end-to-end encryption and an inbox.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::EncryptionInfo;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::poll::unstable_response::UnstablePollResponseEventContent;
use matrix_sdk::ruma::events::poll::unstable_start::{
    OriginalSyncUnstablePollStartEvent, UnstablePollStartEventContent,
};
use matrix_sdk::ruma::events::room::MediaSource;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::MessageType;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room, RoomMemberships};
use rand::Rng;
use tokio::sync::Notify;

use super::Homeserver;

/// A message a simulated user received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The room it arrived in.
    pub room_id: OwnedRoomId,
    /// Its event id.
    pub event_id: OwnedEventId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// The plain-text body.
    pub body: String,
    /// Whether it arrived end-to-end encrypted (and was decrypted).
    pub encrypted: bool,
    /// The event it replies to, if any.
    pub in_reply_to: Option<OwnedEventId>,
    /// When the client saw it.
    pub at: Instant,
    /// For a poll: its answers (id, text); the body is then the fallback text.
    pub poll: Option<Vec<(String, String)>>,
    /// For a file: where to download it (the body is then the file name).
    pub file: Option<MediaSource>,
}

/// A registered, logged-in user whose client keeps syncing in the background.
pub struct SimUser {
    /// The matrix-sdk client.
    pub client: Client,
    /// The user's id.
    pub user_id: OwnedUserId,
    /// The password (the tests log in with it again where needed).
    pub password: String,
    inbox: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for SimUser {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

/// A random lowercase suffix so users of parallel tests never collide.
pub fn random_suffix() -> String {
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

impl SimUser {
    /// Registers `<prefix>-<random>` on `hs`, logs in and starts syncing.
    pub async fn register(hs: &Homeserver, prefix: &str) -> anyhow::Result<SimUser> {
        let localpart = format!("{prefix}-{}", random_suffix());
        let password = format!("pw-{}", random_suffix());
        hs.register(&localpart, &password, false).await?;
        Self::login(hs, &localpart, &password).await
    }

    /// Logs in an existing account and starts syncing.
    pub async fn login(
        hs: &Homeserver,
        localpart: &str,
        password: &str,
    ) -> anyhow::Result<SimUser> {
        let client = Client::builder()
            .homeserver_url(hs.url.as_str())
            .build()
            .await?;
        client
            .matrix_auth()
            .login_username(localpart, password)
            .initial_device_display_name("sim")
            .send()
            .await
            .with_context(|| format!("login of {localpart} failed"))?;
        let user_id = client
            .user_id()
            .context("no user id after login")?
            .to_owned();
        let inbox: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        {
            let inbox = inbox.clone();
            let arrived = arrived.clone();
            client.add_event_handler(
                move |ev: OriginalSyncRoomMessageEvent, room: Room, enc: Option<EncryptionInfo>| {
                    let inbox = inbox.clone();
                    let arrived = arrived.clone();
                    async move {
                        let in_reply_to = match &ev.content.relates_to {
                            Some(Relation::Reply(reply)) => {
                                Some(reply.in_reply_to.event_id.clone())
                            }
                            Some(Relation::Thread(t)) => {
                                t.in_reply_to.as_ref().map(|r| r.event_id.clone())
                            }
                            _ => None,
                        };
                        let received = Received {
                            room_id: room.room_id().to_owned(),
                            event_id: ev.event_id.clone(),
                            sender: ev.sender.clone(),
                            body: ev.content.body().to_string(),
                            encrypted: enc.is_some(),
                            file: match &ev.content.msgtype {
                                MessageType::File(f) => Some(f.source.clone()),
                                _ => None,
                            },
                            in_reply_to,
                            at: Instant::now(),
                            poll: None,
                        };
                        inbox
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(received);
                        arrived.notify_waiters();
                    }
                },
            );
        }
        {
            let inbox = inbox.clone();
            let arrived = arrived.clone();
            client.add_event_handler(
                move |ev: OriginalSyncUnstablePollStartEvent,
                      room: Room,
                      enc: Option<EncryptionInfo>| {
                    let inbox = inbox.clone();
                    let arrived = arrived.clone();
                    async move {
                        let UnstablePollStartEventContent::New(content) = &ev.content else {
                            return;
                        };
                        let answers = content
                            .poll_start
                            .answers
                            .iter()
                            .map(|a| (a.id.clone(), a.text.clone()))
                            .collect();
                        let received = Received {
                            room_id: room.room_id().to_owned(),
                            event_id: ev.event_id.clone(),
                            sender: ev.sender.clone(),
                            body: content.text.clone().unwrap_or_default(),
                            encrypted: enc.is_some(),
                            in_reply_to: None,
                            at: Instant::now(),
                            poll: Some(answers),
                            file: None,
                        };
                        inbox
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(received);
                        arrived.notify_waiters();
                    }
                },
            );
        }
        // One sync before returning uploads the device keys, so others can encrypt for us.
        client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await?;
        let sync_client = client.clone();
        let sync = tokio::spawn(async move {
            loop {
                let settings = SyncSettings::default().timeout(Duration::from_secs(5));
                if sync_client.sync_once(settings).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        Ok(SimUser {
            client,
            user_id,
            password: password.to_string(),
            inbox,
            arrived,
            sync,
        })
    }

    /// Sets up cross-signing for this user from this device, as a client does when its user
    /// turns verification on: the device is then cross-signed; devices logged in later are
    /// not, until verified.
    pub async fn bootstrap_cross_signing(&self) -> anyhow::Result<()> {
        use matrix_sdk::ruma::api::client::uiaa;
        let enc = self.client.encryption();
        if let Err(e) = enc.bootstrap_cross_signing(None).await {
            // The homeserver may ask for the password (user-interactive auth).
            let response = e
                .as_uiaa_response()
                .context("cross-signing bootstrap failed")?;
            let mut password = uiaa::Password::new(
                uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(
                    self.user_id.to_string(),
                )),
                self.password.clone(),
            );
            password.session = response.session.clone();
            enc.bootstrap_cross_signing(Some(uiaa::AuthData::Password(password)))
                .await
                .context("cross-signing bootstrap with password failed")?;
        }
        Ok(())
    }

    /// Logs this user in once more: a new device of the same account, not cross-signed.
    pub async fn another_device(&self, hs: &Homeserver) -> anyhow::Result<SimUser> {
        Self::login(hs, self.user_id.localpart(), &self.password).await
    }

    /// Creates an end-to-end encrypted room and invites `invite`.
    pub async fn create_encrypted_room(
        &self,
        name: &str,
        invite: &[&UserId],
    ) -> anyhow::Result<Room> {
        let mut request = create_room::v3::Request::new();
        request.name = Some(name.to_string());
        request.invite = invite.iter().map(|u| (*u).to_owned()).collect();
        request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        request.initial_state = vec![
            InitialStateEvent::with_empty_state_key(
                RoomEncryptionEventContent::with_recommended_defaults(),
            )
            .to_raw_any(),
        ];
        Ok(self.client.create_room(request).await?)
    }

    /// Waits until `user` has joined `room`, as this client sees it.
    pub async fn wait_for_join(
        &self,
        room: &RoomId,
        user: &UserId,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.client.get_room(room) {
                let members = r.members_no_sync(RoomMemberships::JOIN).await?;
                if members.iter().any(|m| m.user_id() == user) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("{user} did not join {room} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Joins every room this user is invited to from now on (a participant accepting the
    /// bot's direct chat).
    pub fn accept_invites(&self) {
        let own = self.user_id.clone();
        self.client
            .add_event_handler(move |ev: StrippedRoomMemberEvent, room: Room| {
                let own = own.clone();
                async move {
                    if ev.state_key != own || room.state() != matrix_sdk::RoomState::Invited {
                        return;
                    }
                    for _ in 0..10 {
                        if room.join().await.is_ok() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
            });
    }

    /// Downloads (and decrypts) a received file.
    pub async fn download(&self, source: &MediaSource) -> anyhow::Result<Vec<u8>> {
        let request = MediaRequestParameters {
            source: source.clone(),
            format: MediaFormat::File,
        };
        Ok(self
            .client
            .media()
            .get_media_content(&request, false)
            .await?)
    }

    /// Votes on a poll (unstable MSC3381 response, as Element sends it).
    pub async fn vote(
        &self,
        room: &RoomId,
        poll: &OwnedEventId,
        answers: &[&str],
    ) -> anyhow::Result<OwnedEventId> {
        let r = self.client.get_room(room).context("unknown room")?;
        let content = UnstablePollResponseEventContent::new(
            answers.iter().map(|a| (*a).to_owned()).collect(),
            poll.clone(),
        );
        let resp = r.send(content).await?;
        Ok(resp.response.event_id)
    }

    /// Sends a plain-text message.
    pub async fn send_text(&self, room: &RoomId, text: &str) -> anyhow::Result<OwnedEventId> {
        let r = self.client.get_room(room).context("unknown room")?;
        let resp = r.send(RoomMessageEventContent::text_plain(text)).await?;
        Ok(resp.response.event_id)
    }

    /// Sends a text message with the transaction id `txn`: sent again with the same id (a
    /// retry after a lost response), the homeserver returns the first event instead of
    /// posting a second one.
    pub async fn send_text_as(
        &self,
        room: &RoomId,
        text: &str,
        txn: &matrix_sdk::ruma::TransactionId,
    ) -> anyhow::Result<OwnedEventId> {
        let r = self.client.get_room(room).context("unknown room")?;
        let resp = r
            .send(RoomMessageEventContent::text_plain(text))
            .with_transaction_id(txn.to_owned())
            .await?;
        Ok(resp.response.event_id)
    }

    /// Everything received so far.
    pub fn inbox(&self) -> Vec<Received> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for the first received message that matches `pred`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> anyhow::Result<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if let Some(m) = self.inbox().into_iter().find(|m| pred(m)) {
                return Ok(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no matching message within {timeout:?}");
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Waits for the bot's consent poll (it arrives in the participant's new DM).
    pub async fn wait_for_consent_poll(
        &self,
        bot: &UserId,
        timeout: Duration,
    ) -> anyhow::Result<Received> {
        self.wait_for(timeout, |m| {
            m.sender == bot
                && m.poll
                    .as_ref()
                    .is_some_and(|a| a.iter().any(|(id, _)| id == "consent.yes"))
        })
        .await
    }

    /// Waits for the reply to `event_id`.
    pub async fn wait_for_reply(
        &self,
        event_id: &OwnedEventId,
        timeout: Duration,
    ) -> anyhow::Result<Received> {
        self.wait_for(timeout, |m| m.in_reply_to.as_ref() == Some(event_id))
            .await
    }
}
