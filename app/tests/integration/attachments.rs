//! Attachments on a real database and a real file store: resumable uploads, limits, types,
//! committing to a ticket, search, who may reach which file, and cleaning up.

use crate::common;

use app::backend::accounts::Viewer;
use app::backend::attachments::{self, NewUpload, UploadState};
use app::backend::config::Config;
use app::backend::error::ServiceError;
use app::backend::files::{new_name, FileStore, Listed, StoredFile};
use app::backend::tickets::{self, NewTicket};
use app::i18n::Msg;
use app::model::{EntryKind, Priority, RequestType};
use bytes::Bytes;
use chrono::{Duration, Utc};
use common::{config, file_site, user_msg, FileSite};
use futures_util::{stream, TryStreamExt};
use sha2::{Digest, Sha256};

/// The file fixtures, with this file's own helpers.
struct Site(FileSite);

impl std::ops::Deref for Site {
    type Target = FileSite;
    fn deref(&self) -> &FileSite {
        &self.0
    }
}

impl std::ops::DerefMut for Site {
    fn deref_mut(&mut self) -> &mut FileSite {
        &mut self.0
    }
}

async fn site() -> Site {
    Site(file_site(config()).await)
}

/// A PNG of `len` bytes: the signature and header, then bytes that do not repeat.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    let mut state: u32 = 2463534242;
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.push(state as u8);
    }
    bytes.truncate(len);
    bytes
}

const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A body that delivers `chunks` and then, if `cut`, fails as a dropped connection does.
fn body(
    chunks: &[&[u8]],
    cut: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send {
    let mut items: Vec<Result<Bytes, std::io::Error>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    if cut {
        items.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
    }
    stream::iter(items)
}

/// The bytes of a stored file, read as a download reads them.
async fn read_stored(file: &StoredFile) -> Vec<u8> {
    match file {
        StoredFile::Local(path) => std::fs::read(path).unwrap(),
        StoredFile::S3(object) => {
            let size = object.size().await.unwrap();
            let chunks: Vec<Bytes> = object
                .stream(0..size)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            chunks.concat()
        }
    }
}

impl Site {
    /// What the store holds, partial and finished.
    async fn files(&self) -> Vec<Listed> {
        self.store.list().await.unwrap()
    }

    async fn open(&self, who: &Viewer, subject: &str) -> String {
        let new = NewTicket {
            organization_id: (who.role.is_staff()).then_some(self.world.organization_id),
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::Medium,
            subject,
            comment: "Se adjuntan fotos.",
            attachments: &[],
        };
        tickets::open_ticket(self.db(), &self.events, &self.config, who, new)
            .await
            .unwrap()
            .number
    }

    async fn begin(&self, who: &Viewer, name: &str, length: usize) -> UploadState {
        self.begin_with(&self.config, who, name, length)
            .await
            .unwrap()
    }

    async fn begin_with(
        &self,
        config: &Config,
        who: &Viewer,
        name: &str,
        length: usize,
    ) -> Result<UploadState, ServiceError> {
        attachments::begin_upload(
            self.db(),
            config,
            who,
            NewUpload {
                name: name.into(),
                length: length as u64,
            },
        )
        .await
    }

    async fn append(
        &self,
        who: &Viewer,
        id: &str,
        offset: usize,
        chunks: &[&[u8]],
        cut: bool,
    ) -> Result<UploadState, ServiceError> {
        attachments::append(
            self.db(),
            &self.store,
            who,
            id,
            offset as u64,
            body(chunks, cut),
        )
        .await
    }

    /// Uploads a whole file at once, returning its staged attachment's id.
    async fn upload(&self, who: &Viewer, name: &str, bytes: &[u8]) -> String {
        let state = self.begin(who, name, bytes.len()).await;
        let done = self
            .append(who, &state.id, 0, &[bytes], false)
            .await
            .unwrap();
        done.attachment.expect("a staged attachment").id
    }

    async fn commit(
        &self,
        who: &Viewer,
        number: &str,
        ids: &[String],
        internal: bool,
    ) -> Result<i64, ServiceError> {
        attachments::commit(
            self.db(),
            &self.events,
            &self.config,
            who,
            number,
            ids,
            internal,
        )
        .await
    }

    async fn download(&self, who: &Viewer, id: &str) -> Result<Vec<u8>, ServiceError> {
        let download = attachments::for_download(self.db(), &self.store, who, id).await?;
        Ok(read_stored(&download.file).await)
    }
}

#[tokio::test]
async fn an_upload_cut_twice_resumes_and_arrives_byte_identical() {
    let site = site().await;
    let file = png(700_000);
    let state = site.begin(&site.ana, "montura.png", file.len()).await;
    assert_eq!((state.offset, state.length), (0, file.len() as u64));
    assert!(state.id.len() >= 32, "at least 128 bits");
    assert!(state.attachment.is_none());

    // The first connection delivers two chunks and drops.
    let cut = site
        .append(
            &site.ana,
            &state.id,
            0,
            &[&file[..100_000], &file[100_000..250_000]],
            true,
        )
        .await;
    assert_eq!(user_msg(cut), Msg::ErrorUploadInterrupted);
    let resumed = attachments::upload_state(site.db(), &site.ana, &state.id)
        .await
        .unwrap();
    assert_eq!(resumed.offset, 250_000, "every byte that arrived is kept");

    // The second one delivers a little and drops too.
    let cut = site
        .append(
            &site.ana,
            &state.id,
            250_000,
            &[&file[250_000..400_001]],
            true,
        )
        .await;
    assert_eq!(user_msg(cut), Msg::ErrorUploadInterrupted);
    let offset = attachments::upload_state(site.db(), &site.ana, &state.id)
        .await
        .unwrap()
        .offset as usize;
    assert_eq!(offset, 400_001);

    // The third finishes it, in several chunks.
    let done = site
        .append(
            &site.ana,
            &state.id,
            offset,
            &[&file[offset..600_000], &file[600_000..]],
            false,
        )
        .await
        .unwrap();
    assert_eq!(done.offset, file.len() as u64);
    let info = done.attachment.expect("complete: a staged attachment");
    assert_eq!(info.sha256, sha256(&file));
    assert_eq!(info.size, file.len() as u64);
    assert_eq!(info.content_type, "image/png");
    assert!(info.inline);
    assert_eq!(info.name, "montura.png");
    assert!(info.id.len() >= 32 && info.id != state.id);
    assert_eq!(site.download(&site.ana, &info.id).await.unwrap(), file);
    // Asking again after the end tells the same.
    let again = attachments::upload_state(site.db(), &site.ana, &state.id)
        .await
        .unwrap();
    assert_eq!(again.attachment.map(|a| a.id), Some(info.id));
    // Nothing partial is left; the file has a name of the server's.
    let files = site.files().await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(!files[0].partial && !files[0].name.contains("montura"));
}

#[tokio::test]
async fn the_offset_must_be_where_the_upload_stands() {
    let site = site().await;
    let file = png(1000);
    let state = site.begin(&site.ana, "a.png", file.len()).await;
    site.append(&site.ana, &state.id, 0, &[&file[..300]], false)
        .await
        .unwrap();
    for wrong in [0, 200, 301, 1000] {
        let refused = site
            .append(
                &site.ana,
                &state.id,
                wrong,
                &[&file[wrong.min(999)..]],
                false,
            )
            .await;
        assert_eq!(user_msg(refused), Msg::ErrorUploadOffsetConflict, "{wrong}");
    }
    // Positive control: at the stored offset it goes on.
    let done = site
        .append(&site.ana, &state.id, 300, &[&file[300..]], false)
        .await
        .unwrap();
    assert_eq!(done.attachment.unwrap().sha256, sha256(&file));
    // A finished upload takes no more bytes.
    let more = site
        .append(&site.ana, &state.id, 1000, &[b"x"], false)
        .await;
    assert_eq!(user_msg(more), Msg::ErrorUploadOffsetConflict);
}

#[tokio::test]
async fn oversize_files_are_refused_declared_or_streamed() {
    let site = site().await;
    let mut small = config();
    small.max_file_bytes = 5000;
    small.max_request_files_bytes = 8000;
    let too_big = site.begin_with(&small, &site.ana, "big.png", 5001).await;
    assert_eq!(user_msg(too_big), Msg::ErrorFileTooLarge);
    let empty = site.begin_with(&small, &site.ana, "empty.png", 0).await;
    assert_eq!(user_msg(empty), Msg::ErrorFileEmpty);
    let unnamed = site.begin_with(&small, &site.ana, "../", 10).await;
    assert_eq!(user_msg(unnamed), Msg::ErrorFileNameRequired);
    let fits = site.begin_with(&small, &site.ana, "ok.png", 5000).await;
    assert_eq!(fits.unwrap().length, 5000);

    // More bytes than declared: stopped, what came within the length kept, nothing attached.
    let file = png(3000);
    let state = site.begin(&site.ana, "a.png", 2000).await;
    let refused = site
        .append(
            &site.ana,
            &state.id,
            0,
            &[&file[..1500], &file[1500..]],
            false,
        )
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorFileLongerThanDeclared);
    let after = attachments::upload_state(site.db(), &site.ana, &state.id)
        .await
        .unwrap();
    assert_eq!(after.offset, 1500);
    assert!(after.attachment.is_none());
    // Exactly the declared length, then more in the same body: refused as well.
    let state = site.begin(&site.ana, "b.png", 2000).await;
    let refused = site
        .append(
            &site.ana,
            &state.id,
            0,
            &[&file[..2000], &file[2000..2100]],
            false,
        )
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorFileLongerThanDeclared);
}

#[tokio::test]
async fn a_refused_type_leaves_no_file_and_the_name_never_decides() {
    let site = site().await;
    let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";
    let state = site.begin(&site.ana, "foto.jpg", html.len()).await;
    let refused = site.append(&site.ana, &state.id, 0, &[html], false).await;
    assert_eq!(user_msg(refused), Msg::ErrorFileTypeNotAllowed);
    assert!(site.files().await.is_empty(), "{:?}", site.files().await);
    let gone = attachments::upload_state(site.db(), &site.ana, &state.id).await;
    assert_eq!(user_msg(gone), Msg::ErrorNotFound);

    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>";
    let state = site.begin(&site.ana, "logo.png", svg.len()).await;
    let refused = site.append(&site.ana, &state.id, 0, &[svg], false).await;
    assert_eq!(user_msg(refused), Msg::ErrorFileTypeNotAllowed);
    assert!(site.files().await.is_empty());

    // Positive control: a PNG named .pdf is stored as a PNG.
    let id = site.upload(&site.ana, "informe.pdf", &png(2000)).await;
    let download = attachments::for_download(site.db(), &site.store, &site.ana, &id)
        .await
        .unwrap();
    assert_eq!(download.info.content_type, "image/png");
    assert_eq!(download.info.name, "informe.pdf");
    let log = site
        .upload(&site.ana, "cupula.log", b"12:00 humedad 91%\n")
        .await;
    let download = attachments::for_download(site.db(), &site.store, &site.ana, &log)
        .await
        .unwrap();
    assert_eq!(download.info.content_type, "text/plain");
    assert!(!download.info.inline);
}

#[tokio::test]
async fn the_organization_quota_counts_uploads_staged_and_committed_files() {
    let mut site = site().await;
    site.config.organization_quota_bytes = 10_000;
    let number = site.open(&site.ana, "Fotos de la montura").await;

    let first = site.upload(&site.ana, "uno.png", &png(4000)).await;
    // Begun but not finished: the declared length counts too.
    let pending = site.begin(&site.bruno, "dos.png", 4000).await;
    let over = site
        .begin_with(&site.config, &site.ana, "tres.png", 2001)
        .await;
    assert_eq!(user_msg(over), Msg::ErrorQuotaExceeded);
    // Another organization's quota is its own.
    site.begin(&site.carla, "vega.png", 9000).await;
    // Positive control: what is left fits.
    site.begin_with(&site.config, &site.ana, "tres.png", 2000)
        .await
        .unwrap();

    // Committing a client's own staged files does not count them twice.
    site.commit(&site.ana, &number, std::slice::from_ref(&first), false)
        .await
        .unwrap();
    assert_eq!(
        attachments::upload_state(site.db(), &site.bruno, &pending.id)
            .await
            .unwrap()
            .offset,
        0
    );

    // Staff files count against the ticket's organization when committed.
    let staff_file = site.upload(&site.agent, "esquema.png", &png(3000)).await;
    let refused = site
        .commit(
            &site.agent,
            &number,
            std::slice::from_ref(&staff_file),
            false,
        )
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorQuotaExceeded);
    site.config.organization_quota_bytes = 13_000;
    site.commit(&site.agent, &number, &[staff_file], false)
        .await
        .unwrap();
}

#[tokio::test]
async fn one_commit_may_carry_only_so_much() {
    let mut site = site().await;
    site.config.max_request_files_bytes = 5000;
    let number = site.open(&site.ana, "Muchos archivos").await;
    let a = site.upload(&site.ana, "a.png", &png(3000)).await;
    let b = site.upload(&site.ana, "b.png", &png(3000)).await;
    let refused = site
        .commit(&site.ana, &number, &[a.clone(), b.clone()], false)
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorRequestFilesTooLarge);
    let none = site.commit(&site.ana, &number, &[], false).await;
    assert_eq!(user_msg(none), Msg::ErrorNoFiles);
    // Positive control: one at a time they go.
    site.commit(&site.ana, &number, &[a], false).await.unwrap();
    site.commit(&site.ana, &number, &[b], false).await.unwrap();
}

#[tokio::test]
async fn a_commit_is_one_timeline_entry_and_its_names_are_searchable() {
    let site = site().await;
    let number = site.open(&site.ana, "La cúpula no cierra").await;
    let mut events = common::RecordedEvents::from_now(site.db()).await;
    let photo = site
        .upload(&site.ana, "montura-ecuatorial.png", &png(5000))
        .await;
    let report = site.upload(&site.ana, "espectrógrafo.pdf", PDF).await;
    assert!(
        site.search(&site.ana, "espectrografo").await.is_empty(),
        "staged files are not indexed"
    );

    let entry_id = site
        .commit(&site.ana, &number, &[photo.clone(), report.clone()], false)
        .await
        .unwrap();
    let event = events.next().await.expect("a ticket event");
    assert_eq!(
        (event.entry_id, event.kind, event.internal),
        (entry_id, EntryKind::Attachment.code().to_string(), false)
    );

    let detail = tickets::ticket(site.db(), &site.config, &site.ana, &number)
        .await
        .unwrap();
    let entries: Vec<_> = detail
        .timeline
        .iter()
        .filter(|e| e.kind == EntryKind::Attachment)
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, entry_id);
    assert!(entries[0].body.contains("montura-ecuatorial.png"));
    let ids: Vec<&str> = entries[0]
        .attachments
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, [photo.as_str(), report.as_str()]);

    for who in [&site.ana, &site.bruno, &site.agent] {
        assert_eq!(
            site.search(who, "espectrografo").await,
            std::slice::from_ref(&number)
        );
        assert_eq!(
            site.search(who, "ecuatorial").await,
            std::slice::from_ref(&number)
        );
    }
    assert!(site.search(&site.carla, "espectrografo").await.is_empty());

    // Committed files are no longer staged: they cannot be committed again.
    let again = site.commit(&site.ana, &number, &[photo], false).await;
    assert_eq!(user_msg(again), Msg::ErrorNotFound);
    let listed = attachments::list(site.db(), &site.bruno, &number)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn another_organization_reaches_no_upload_file_or_list() {
    let site = site().await;
    let number = site.open(&site.ana, "Privado").await;
    let file = png(2000);
    let upload = site.begin(&site.ana, "a.png", file.len()).await;
    let staged = site.upload(&site.ana, "staged.png", &png(1500)).await;
    let committed = site.upload(&site.ana, "committed.png", &png(1800)).await;
    site.commit(&site.ana, &number, std::slice::from_ref(&committed), false)
        .await
        .unwrap();

    // Upload ids are their owner's alone, even within the organization.
    for stranger in [&site.carla, &site.bruno, &site.agent] {
        let state = attachments::upload_state(site.db(), stranger, &upload.id).await;
        assert_eq!(user_msg(state), Msg::ErrorNotFound);
        let appended = site.append(stranger, &upload.id, 0, &[&file], false).await;
        assert_eq!(user_msg(appended), Msg::ErrorNotFound);
        // Someone else's staged file can be neither read nor committed.
        let read = site.download(stranger, &staged).await;
        assert_eq!(user_msg(read), Msg::ErrorNotFound);
        let cancel = attachments::discard_staged(site.db(), &site.store, stranger, &staged).await;
        assert_eq!(user_msg(cancel), Msg::ErrorNotFound);
    }
    let stolen = site
        .commit(&site.bruno, &number, std::slice::from_ref(&staged), false)
        .await;
    assert_eq!(user_msg(stolen), Msg::ErrorNotFound);
    // The other organization sees neither the committed file nor the ticket's list.
    assert_eq!(
        user_msg(site.download(&site.carla, &committed).await),
        Msg::ErrorNotFound
    );
    let list = attachments::list(site.db(), &site.carla, &number).await;
    assert_eq!(user_msg(list), Msg::ErrorNotFound);
    // Nor can it commit its own files to the ticket.
    let own = site.upload(&site.carla, "vega.png", &png(1000)).await;
    let foreign = site.commit(&site.carla, &number, &[own], false).await;
    assert_eq!(user_msg(foreign), Msg::ErrorNotFound);
    // A made-up id is not found either.
    assert_eq!(
        user_msg(site.download(&site.ana, &"0".repeat(64)).await),
        Msg::ErrorNotFound
    );

    // Positive controls: the owner, their organization and staff do reach what is theirs.
    assert_eq!(
        attachments::upload_state(site.db(), &site.ana, &upload.id)
            .await
            .unwrap()
            .offset,
        0
    );
    assert!(site.download(&site.ana, &staged).await.is_ok());
    for who in [&site.ana, &site.bruno, &site.agent] {
        assert_eq!(site.download(who, &committed).await.unwrap().len(), 1800);
        assert_eq!(
            attachments::list(site.db(), who, &number)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn internal_attachments_are_for_staff_only() {
    let site = site().await;
    let number = site.open(&site.ana, "Montura").await;
    let client_file = site.upload(&site.ana, "cliente.png", &png(1000)).await;
    let refused = site
        .commit(&site.ana, &number, std::slice::from_ref(&client_file), true)
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorForbidden);

    let note_file = site
        .upload(&site.agent, "presupuesto-interno.pdf", PDF)
        .await;
    site.commit(&site.agent, &number, std::slice::from_ref(&note_file), true)
        .await
        .unwrap();
    let public_file = site.upload(&site.agent, "instrucciones.pdf", PDF).await;
    site.commit(
        &site.agent,
        &number,
        std::slice::from_ref(&public_file),
        false,
    )
    .await
    .unwrap();

    for client in [&site.ana, &site.bruno] {
        let listed = attachments::list(site.db(), client, &number).await.unwrap();
        let names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["instrucciones.pdf"]);
        assert_eq!(
            user_msg(site.download(client, &note_file).await),
            Msg::ErrorNotFound
        );
        let detail = tickets::ticket(site.db(), &site.config, client, &number)
            .await
            .unwrap();
        assert!(detail
            .timeline
            .iter()
            .all(|e| !e.body.contains("presupuesto") && e.attachments.iter().all(|a| !a.internal)));
        assert!(site.search(client, "presupuesto").await.is_empty());
    }
    // Positive control: staff see it, flagged internal.
    let listed = attachments::list(site.db(), &site.agent, &number)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|a| a.id == note_file && a.internal));
    assert!(site.download(&site.agent, &note_file).await.is_ok());
    assert_eq!(site.search(&site.agent, "presupuesto").await, [number]);
}

#[tokio::test]
async fn purging_removes_expired_partial_uploads_and_staged_files() {
    let site = site().await;
    let number = site.open(&site.ana, "Limpieza").await;
    let partial = site.begin(&site.ana, "a medias.png", 5000).await;
    site.append(&site.ana, &partial.id, 0, &[&png(5000)[..2000]], false)
        .await
        .unwrap();
    let staged = site.upload(&site.ana, "olvidado.png", &png(1000)).await;
    let kept = site.upload(&site.ana, "enviado.png", &png(1200)).await;
    site.commit(&site.ana, &number, std::slice::from_ref(&kept), false)
        .await
        .unwrap();
    assert_eq!(site.files().await.len(), 3);

    // Nothing has expired yet.
    let now = Utc::now();
    let purged = attachments::purge_expired(site.db(), &site.store, now)
        .await
        .unwrap();
    assert_eq!((purged.uploads, purged.staged), (0, 0));
    assert_eq!(site.files().await.len(), 3);

    let later = now + Duration::hours(25);
    let purged = attachments::purge_expired(site.db(), &site.store, later)
        .await
        .unwrap();
    // The partial upload and the two finished uploads' records; one staged file.
    assert_eq!((purged.uploads, purged.staged), (3, 1));
    let left = site.files().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        site.store.read(&left[0].name, 1 << 20).await.unwrap(),
        png(1200)
    );
    assert_eq!(
        user_msg(site.download(&site.ana, &staged).await),
        Msg::ErrorNotFound
    );
    assert!(site.download(&site.ana, &kept).await.is_ok());
    // Running it again finds nothing more.
    let again = attachments::purge_expired(site.db(), &site.store, later)
        .await
        .unwrap();
    assert_eq!((again.uploads, again.staged), (0, 0));
}

#[tokio::test]
async fn files_no_row_names_are_removed_after_a_crash() {
    let site = site().await;
    let partial = site.begin(&site.ana, "en curso.png", 5000).await;
    site.append(&site.ana, &partial.id, 0, &[&png(5000)[..100]], false)
        .await
        .unwrap();
    let staged = site.upload(&site.ana, "guardado.png", &png(1000)).await;
    // What a crash could leave: a finished file moved into place but never recorded, and a
    // partial file whose row is gone.
    let orphan_final = site.store.put(b"half attached".to_vec()).await.unwrap();
    let orphan_partial = new_name();
    let mut writer = site.store.open_partial(&orphan_partial, 0).await.unwrap();
    writer.write(b"abandoned").await.unwrap();
    writer.sync().await.unwrap();
    drop(writer);
    // Not names of the store's: never touched.
    let foreign = ["LEEME.txt", "partial/LEEME.txt", "files/LEEME.txt"];
    for key in foreign {
        site.files.put_raw(key, b"operator's note").await;
    }
    assert_eq!(site.files().await.len(), 4);

    // Files younger than the cut-off are left alone (they may be about to be recorded).
    let before = Utc::now() - Duration::hours(1);
    let removed = attachments::remove_orphans(site.db(), &site.store, before)
        .await
        .unwrap();
    assert_eq!(removed, 0);

    let removed =
        attachments::remove_orphans(site.db(), &site.store, Utc::now() + Duration::seconds(5))
            .await
            .unwrap();
    assert_eq!(removed, 2);
    let left = site.files().await;
    assert!(
        left.iter()
            .all(|f| f.name != orphan_final && f.name != orphan_partial),
        "{left:?}"
    );
    for key in foreign {
        assert!(site.files.raw_exists(key).await, "{key}");
    }
    // What rows name stays: the upload resumes, the staged file downloads.
    assert_eq!(left.len(), 2);
    let done = site
        .append(&site.ana, &partial.id, 100, &[&png(5000)[100..]], false)
        .await
        .unwrap();
    assert_eq!(done.attachment.unwrap().sha256, sha256(&png(5000)));
    assert_eq!(site.download(&site.ana, &staged).await.unwrap(), png(1000));
}

#[tokio::test]
async fn cancelling_an_upload_deletes_its_file() {
    let site = site().await;
    let partial = site.begin(&site.ana, "a.png", 5000).await;
    site.append(&site.ana, &partial.id, 0, &[&png(5000)[..100]], false)
        .await
        .unwrap();
    let other = attachments::cancel_upload(site.db(), &site.store, &site.bruno, &partial.id).await;
    assert_eq!(user_msg(other), Msg::ErrorNotFound);
    assert_eq!(site.files().await.len(), 1);
    attachments::cancel_upload(site.db(), &site.store, &site.ana, &partial.id)
        .await
        .unwrap();
    assert!(site.files().await.is_empty());
    let gone = attachments::upload_state(site.db(), &site.ana, &partial.id).await;
    assert_eq!(user_msg(gone), Msg::ErrorNotFound);

    let finished = site.begin(&site.ana, "b.png", 1000).await;
    site.append(&site.ana, &finished.id, 0, &[&png(1000)], false)
        .await
        .unwrap();
    attachments::cancel_upload(site.db(), &site.store, &site.ana, &finished.id)
        .await
        .unwrap();
    assert!(site.files().await.is_empty());
}

#[tokio::test]
async fn one_request_at_a_time_appends_to_an_upload() {
    let site = site().await;
    let file = png(3000);
    let state = site.begin(&site.ana, "a.png", file.len()).await;
    // The first request sends a chunk, then waits for more.
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let slow_body = Box::pin(stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|item| (item, receive))
    }));
    let (db, store, ana, id) = (
        site.db().clone(),
        site.store.clone(),
        site.ana.clone(),
        state.id.clone(),
    );
    let first =
        tokio::spawn(
            async move { attachments::append(&db, &store, &ana, &id, 0, slow_body).await },
        );
    send.send(Ok(Bytes::copy_from_slice(&file[..1000])))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // A second request at the offset the database still has is refused while the first runs.
    let second = site.append(&site.ana, &state.id, 0, &[&file], false).await;
    assert_eq!(user_msg(second), Msg::ErrorUploadOffsetConflict);

    // Positive control: the first one finishes the file, intact.
    send.send(Ok(Bytes::copy_from_slice(&file[1000..])))
        .await
        .unwrap();
    drop(send);
    let done = first.await.unwrap().unwrap();
    assert_eq!(done.attachment.unwrap().sha256, sha256(&file));
}

#[tokio::test]
async fn a_reply_carries_its_files_in_its_own_entry_in_one_transaction() {
    let site = site().await;
    let number = site.open(&site.ana, "El enfoque falla").await;
    let photo = site.upload(&site.ana, "enfocador.png", &png(4000)).await;
    let report = site.upload(&site.ana, "registro-nocturno.pdf", PDF).await;
    let mut events = common::RecordedEvents::from_now(site.db()).await;

    let entry_id = tickets::add_message(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        "Adjunto la foto y el registro.",
        false,
        &[photo.clone(), report.clone()],
    )
    .await
    .unwrap();
    let event = events.next().await.expect("a ticket event");
    assert_eq!(
        (event.entry_id, event.kind),
        (entry_id, EntryKind::Message.code().to_string())
    );
    assert!(events.next().await.is_none(), "one event for the reply");

    let detail = tickets::ticket(site.db(), &site.config, &site.bruno, &number)
        .await
        .unwrap();
    let with_files: Vec<_> = detail
        .timeline
        .iter()
        .filter(|e| !e.attachments.is_empty())
        .collect();
    assert_eq!(with_files.len(), 1, "the files are on the message itself");
    assert_eq!(
        (
            with_files[0].id,
            with_files[0].kind,
            with_files[0].body.as_str()
        ),
        (
            entry_id,
            EntryKind::Message,
            "Adjunto la foto y el registro."
        )
    );
    let ids: Vec<&str> = with_files[0]
        .attachments
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, [photo.as_str(), report.as_str()]);
    assert!(!detail
        .timeline
        .iter()
        .any(|e| e.kind == EntryKind::Attachment));
    assert_eq!(
        site.search(&site.bruno, "nocturno").await,
        std::slice::from_ref(&number),
        "the files' names are found by search"
    );

    // Files alone: an attachment entry listing their names.
    let log = site
        .upload(&site.agent, "guia.txt", b"paso 1\npaso 2\n")
        .await;
    let files_only = tickets::add_message(
        site.db(),
        &site.events,
        &site.config,
        &site.agent,
        &number,
        "   ",
        false,
        std::slice::from_ref(&log),
    )
    .await
    .unwrap();
    let detail = tickets::ticket(site.db(), &site.config, &site.ana, &number)
        .await
        .unwrap();
    let entry = detail.timeline.iter().find(|e| e.id == files_only).unwrap();
    assert_eq!(
        (entry.kind, entry.body.as_str(), entry.attachments.len()),
        (EntryKind::Attachment, "guia.txt", 1)
    );
    // Neither text nor files: still refused.
    let nothing = tickets::add_message(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        " ",
        false,
        &[],
    )
    .await;
    assert_eq!(user_msg(nothing), Msg::ErrorMessageRequired);
}

#[tokio::test]
async fn a_reply_naming_somebody_elses_file_writes_nothing() {
    let site = site().await;
    let number = site.open(&site.ana, "La montura vibra").await;
    let own = site.upload(&site.ana, "vibracion.png", &png(3000)).await;
    let bruno_s = site.upload(&site.bruno, "de-bruno.png", &png(3000)).await;
    let timeline_len = |detail: app::model::TicketDetail| detail.timeline.len();
    let before = timeline_len(
        tickets::ticket(site.db(), &site.config, &site.agent, &number)
            .await
            .unwrap(),
    );

    let refused = tickets::add_message(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        "Con la foto de Bruno",
        false,
        &[own.clone(), bruno_s.clone()],
    )
    .await;
    assert_eq!(user_msg(refused), Msg::ErrorNotFound);
    let after = tickets::ticket(site.db(), &site.config, &site.agent, &number)
        .await
        .unwrap();
    assert_eq!(after.timeline.len(), before, "no message was written");
    assert!(attachments::list(site.db(), &site.agent, &number)
        .await
        .unwrap()
        .is_empty());
    // Both files are still staged, each for its owner.
    assert!(site.download(&site.ana, &own).await.is_ok());
    assert!(site.download(&site.bruno, &bruno_s).await.is_ok());
    assert_eq!(
        user_msg(site.download(&site.ana, &bruno_s).await),
        Msg::ErrorNotFound
    );

    // Positive control: the same reply with her own file goes through.
    tickets::add_message(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        "Solo la mía",
        false,
        std::slice::from_ref(&own),
    )
    .await
    .unwrap();
    let listed = attachments::list(site.db(), &site.agent, &number)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, own);
}

#[tokio::test]
async fn a_new_request_carries_its_files_on_its_first_comment() {
    let site = site().await;
    let photo = site
        .upload(&site.ana, "cupula-atascada.png", &png(6000))
        .await;
    let new = NewTicket {
        organization_id: None,
        request_type: RequestType::Repair,
        telescope_id: None,
        priority: Priority::High,
        subject: "La cúpula no gira",
        comment: "Foto adjunta.",
        attachments: std::slice::from_ref(&photo),
    };
    let opened = tickets::open_ticket(site.db(), &site.events, &site.config, &site.ana, new)
        .await
        .unwrap();
    let detail = tickets::ticket(site.db(), &site.config, &site.bruno, &opened.number)
        .await
        .unwrap();
    let first = &detail.timeline[0];
    assert_eq!(first.kind, EntryKind::Created);
    let ids: Vec<&str> = first.attachments.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [photo.as_str()]);
    assert_eq!(
        site.search(&site.bruno, "atascada").await,
        std::slice::from_ref(&opened.number)
    );
    assert!(site.search(&site.carla, "atascada").await.is_empty());

    // Somebody else's staged file: no request is opened at all.
    let bruno_s = site.upload(&site.bruno, "ajena.png", &png(3000)).await;
    let count_before = site.search(&site.agent, "").await.len();
    let refused = tickets::open_ticket(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        NewTicket {
            organization_id: None,
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::Medium,
            subject: "Con archivo ajeno",
            comment: "No debe abrirse.",
            attachments: std::slice::from_ref(&bruno_s),
        },
    )
    .await;
    assert_eq!(user_msg(refused), Msg::ErrorNotFound);
    assert_eq!(site.search(&site.agent, "").await.len(), count_before);
    assert!(site.search(&site.agent, "ajeno").await.is_empty());
}

/// Appends `file[from..to]` to the viewer's upload through `store`, as one request.
async fn append_through(
    site: &Site,
    store: &FileStore,
    id: &str,
    file: &[u8],
    from: usize,
    to: usize,
) -> UploadState {
    attachments::append(
        site.db(),
        store,
        &site.ana,
        id,
        from as u64,
        body(&[&file[from..to]], false),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_upload_resumes_across_processes_after_a_crash_between_sync_and_record() {
    const MIB: usize = 1024 * 1024;
    let site = site().await;
    let file = png(13 * MIB + 12_345);
    let state = site.begin(&site.ana, "cielo.png", file.len()).await;
    // Two server processes, each with its own handle on the files.
    let first = site.store.clone();
    let second = site.files.other_process();

    // They take turns: the first ends on a part boundary, the second in the middle of a part.
    let turn = append_through(&site, &first, &state.id, &file, 0, 5 * MIB).await;
    assert_eq!(turn.offset, 5 * MIB as u64);
    let resume_at = 8 * MIB + MIB / 2;
    let turn = append_through(&site, &second, &state.id, &file, 5 * MIB, resume_at).await;
    assert_eq!(turn.offset, resume_at as u64);

    // The second process syncs bytes of its own past the offset, crossing into the next part,
    // and dies before the database records them; then, once more, without even a sync.
    let storage_name = site
        .db()
        .upload_of(
            site.world.observatory_id,
            site.ana.user_id,
            &app::backend::tokens::hash_token(&state.id),
            Utc::now(),
        )
        .await
        .unwrap()
        .unwrap()
        .storage_name;
    let garbage = vec![0x5a_u8; 3 * MIB];
    let mut crashed = second
        .open_partial(&storage_name, resume_at as u64)
        .await
        .unwrap();
    crashed.write(&garbage).await.unwrap();
    crashed.sync().await.unwrap();
    drop(crashed);
    let mut crashed = second
        .open_partial(&storage_name, resume_at as u64)
        .await
        .unwrap();
    crashed.write(&garbage[..2 * MIB]).await.unwrap();
    drop(crashed);
    if let FileStore::S3(_) = &site.store {
        // Object storage resumes only at an offset it synced: any other would make a wrong file.
        // (The local store cuts its file at any offset.)
        assert!(second
            .open_partial(&storage_name, 7 * MIB as u64)
            .await
            .is_err());
    }
    let stood = attachments::upload_state(site.db(), &site.ana, &state.id)
        .await
        .unwrap();
    assert_eq!(
        stood.offset, resume_at as u64,
        "the database never saw those bytes"
    );

    // The first process resumes from the database's offset and finishes the file.
    let done = append_through(&site, &first, &state.id, &file, resume_at, file.len()).await;
    let info = done.attachment.expect("complete: a staged attachment");
    assert_eq!(info.sha256, sha256(&file));
    assert_eq!(info.size, file.len() as u64);
    assert_eq!(site.download(&site.ana, &info.id).await.unwrap(), file);
    let files = site.files().await;
    assert_eq!(files.len(), 1, "only the finished file is left: {files:?}");
    assert!(!files[0].partial);
}

/// The storage name of the viewer's upload `id`.
async fn storage_name_of(site: &Site, id: &str) -> (i64, String) {
    let row = site
        .db()
        .upload_of(
            site.world.observatory_id,
            site.ana.user_id,
            &app::backend::tokens::hash_token(id),
            Utc::now(),
        )
        .await
        .unwrap()
        .unwrap();
    (row.id, row.storage_name)
}

#[tokio::test]
async fn the_sweep_spares_an_upload_completed_in_the_store_until_its_row_is_gone() {
    let site = site().await;
    let file = png(70_000);
    // Completed in the store, its row not written yet: the moment of a finish in progress (object
    // storage completes it under the upload's own name, as a finished file).
    let mut completed = Vec::new();
    for name in ["recorded-soon.png", "crashed.png"] {
        let state = site.begin(&site.ana, name, file.len()).await;
        let (row_id, storage_name) = storage_name_of(&site, &state.id).await;
        let mut writer = site.store.open_partial(&storage_name, 0).await.unwrap();
        writer.write(&file).await.unwrap();
        writer.sync().await.unwrap();
        drop(writer);
        site.store
            .complete_partial(&storage_name, file.len() as u64)
            .await
            .unwrap();
        completed.push((row_id, storage_name));
    }
    // The second one's server died and its upload was purged since.
    site.db().delete_upload(completed[1].0).await.unwrap();

    attachments::remove_orphans(site.db(), &site.store, Utc::now() + Duration::seconds(5))
        .await
        .unwrap();
    let names: Vec<String> = site.files().await.into_iter().map(|f| f.name).collect();
    assert!(
        names.contains(&completed[0].1),
        "an upload names it: {names:?}"
    );
    assert!(
        !names.contains(&completed[1].1),
        "nothing names it: {names:?}"
    );
    assert_eq!(
        site.store.read(&completed[0].1, 16).await.is_ok(),
        matches!(site.store, FileStore::S3(_)),
        "object storage holds it as a finished object"
    );
}
