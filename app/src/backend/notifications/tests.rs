use super::*;

const REPORTER: i64 = 1;
const CONTACT: i64 = 2;
const AGENT: i64 = 3;
const OTHER_AGENT: i64 = 4;

fn person(id: i64, email: &str, role: Role, contact: bool) -> Candidate {
    Candidate {
        id,
        email: email.into(),
        notification_email: None,
        name: format!("Person {id}"),
        role: role.code().into(),
        language: "es".into(),
        support_contact: contact,
    }
}

fn audience() -> Audience {
    Audience {
        people: vec![
            person(REPORTER, "ana@client.example", Role::Client, false),
            person(CONTACT, "luis@client.example", Role::Client, true),
            person(AGENT, "marta@obs.example", Role::Agent, false),
            person(OTHER_AGENT, "pablo@obs.example", Role::Admin, false),
        ],
        contact_addresses: vec!["Guardia@Client.example".into()],
        opt_outs: Vec::new(),
        rules: Vec::new(),
    }
}

fn entry(kind: &str, author: i64, author_role: Role) -> PendingNotification {
    PendingNotification {
        entry_id: 77,
        kind: kind.into(),
        internal: false,
        author_id: Some(author),
        author_name: Some(format!("Person {author}")),
        author_role: Some(author_role.code().into()),
        body: String::new(),
        old_value: None,
        new_value: None,
        entry_created_at: Utc::now(),
        voice_transcript: None,
        voice_state: None,
        ticket_id: 9,
        number: "OBS-2026-00009".into(),
        subject: "La cúpula no gira".into(),
        organization_id: 5,
        organization_name: "Club Orión".into(),
        created_by: REPORTER,
        assignee_id: None,
        observatory_id: 1,
        observatory_name: "Observatorio del Teide".into(),
        primary_color: "#1f4e8c".into(),
        accent_color: "#c2410c".into(),
        logo_file: None,
        email_sender_name: None,
        queue_email: None,
    }
}

/// Who is mailed about `pending`: nobody when it is no event.
fn recipients_of(pending: &PendingNotification, audience: &Audience) -> Vec<Recipient> {
    Event::of(pending)
        .map(|event| recipients(pending, &event, audience))
        .unwrap_or_default()
}

fn addresses(recipients: &[Recipient]) -> Vec<&str> {
    recipients.iter().map(|r| r.address.as_str()).collect()
}

#[test]
fn an_opened_request_acknowledges_the_reporter_copies_the_contacts_and_tells_staff() {
    let to = recipients_of(&entry("created", REPORTER, Role::Client), &audience());
    assert_eq!(
        addresses(&to),
        [
            "ana@client.example",
            "luis@client.example",
            "guardia@client.example",
            "marta@obs.example",
            "pablo@obs.example"
        ]
    );
    assert_eq!(to[0].rule, NotifyRule::OpenedToReporter);
    assert_eq!(to[1].rule, NotifyRule::OpenedToContacts);
    assert_eq!(to[3].rule, NotifyRule::OpenedToStaff);
}

#[test]
fn staff_notices_go_to_the_assignee_else_the_queue_address() {
    let mut assigned = entry("created", REPORTER, Role::Client);
    assigned.assignee_id = Some(AGENT);
    let to = recipients_of(&assigned, &audience());
    assert!(addresses(&to).contains(&"marta@obs.example"));
    assert!(!addresses(&to).contains(&"pablo@obs.example"));

    let mut queued = entry("created", REPORTER, Role::Client);
    queued.queue_email = Some(" Soporte@Obs.example ".into());
    let to = recipients_of(&queued, &audience());
    assert!(addresses(&to).contains(&"soporte@obs.example"));
    assert!(!addresses(&to).contains(&"marta@obs.example"));
}

#[test]
fn a_status_change_reaches_reporter_contacts_and_assignee_but_not_its_author() {
    let mut change = entry("status", AGENT, Role::Agent);
    change.old_value = Some("open".into());
    change.new_value = Some("in_progress".into());
    change.assignee_id = Some(OTHER_AGENT);
    let to = recipients_of(&change, &audience());
    assert_eq!(
        addresses(&to),
        [
            "ana@client.example",
            "luis@client.example",
            "guardia@client.example",
            "pablo@obs.example"
        ]
    );
    // The assignee changing it themselves is not told.
    change.author_id = Some(OTHER_AGENT);
    assert!(!addresses(&recipients_of(&change, &audience())).contains(&"pablo@obs.example"));
}

#[test]
fn internal_entries_and_priorities_reach_nobody() {
    let mut note = entry("note", AGENT, Role::Agent);
    note.internal = true;
    assert!(recipients_of(&note, &audience()).is_empty());
    let mut internal_file = entry("attachment", AGENT, Role::Agent);
    internal_file.internal = true;
    assert!(recipients_of(&internal_file, &audience()).is_empty());
    assert!(recipients_of(&entry("priority", AGENT, Role::Agent), &audience()).is_empty());
    // Positive control: the same files sent publicly reach the reporter.
    let public_file = entry("attachment", AGENT, Role::Agent);
    assert!(addresses(&recipients_of(&public_file, &audience())).contains(&"ana@client.example"));
}

#[test]
fn a_client_message_goes_to_staff_and_a_staff_reply_to_the_client_side() {
    let to = recipients_of(&entry("message", REPORTER, Role::Client), &audience());
    assert_eq!(addresses(&to), ["marta@obs.example", "pablo@obs.example"]);
    let to = recipients_of(&entry("message", AGENT, Role::Agent), &audience());
    assert_eq!(
        addresses(&to),
        [
            "ana@client.example",
            "luis@client.example",
            "guardia@client.example"
        ]
    );
}

#[test]
fn a_voice_comment_transcribed_again_mails_nobody() {
    let mut rerun = entry("voice", AGENT, Role::Agent);
    rerun.old_value = Some("41".into());
    assert!(recipients_of(&rerun, &audience()).is_empty());
    assert!(!recipients_of(&entry("voice", AGENT, Role::Agent), &audience()).is_empty());
}

#[test]
fn opt_outs_apply_to_optional_rules_only_and_switched_off_rules_to_everybody() {
    let mut audience = audience();
    audience.opt_outs = vec![
        (CONTACT, NotifyRule::ReplyToContacts.code().into()),
        // Essential: not honoured.
        (REPORTER, NotifyRule::ReplyToReporter.code().into()),
    ];
    let reply = entry("message", AGENT, Role::Agent);
    assert_eq!(
        addresses(&recipients_of(&reply, &audience)),
        ["ana@client.example", "guardia@client.example"]
    );
    audience.rules = vec![(NotifyRule::ReplyToReporter.code().into(), false)];
    assert_eq!(
        addresses(&recipients_of(&reply, &audience)),
        ["guardia@client.example"]
    );
}

#[test]
fn the_notification_address_and_language_of_each_person_are_used() {
    let mut audience = audience();
    audience.people[0].notification_email = Some("Ana.Noche@Example.org".into());
    audience.people[0].language = "en".into();
    let to = recipients_of(&entry("created", REPORTER, Role::Client), &audience);
    assert_eq!(to[0].address, "ana.noche@example.org");
    assert_eq!(to[0].lang, Lang::En);
    // A plain contact address gets the portal's default language.
    assert_eq!(to[2].lang, Lang::Es);
}

#[test]
fn an_assignment_tells_the_new_assignee_unless_they_took_it_themselves() {
    let mut assignment = entry("assignment", OTHER_AGENT, Role::Admin);
    assignment.new_value = Some(AGENT.to_string());
    let to = recipients_of(&assignment, &audience());
    assert_eq!(addresses(&to), ["marta@obs.example"]);
    assert_eq!(to[0].rule, NotifyRule::Assigned);
    assignment.author_id = Some(AGENT);
    assert!(recipients_of(&assignment, &audience()).is_empty());
}

fn config() -> Config {
    let env = |name: &str| match name {
        "CUPULA_BASE_URL" => Some("https://soporte.example.org".to_string()),
        "CUPULA_DATA_DIR" => Some("/nonexistent/cupula-notifications-test".to_string()),
        _ => None,
    };
    Config::load(None, env).unwrap()
}

#[test]
fn the_mail_is_branded_escaped_and_says_what_happened() {
    let mut change = entry("status", AGENT, Role::Agent);
    change.old_value = Some("open".into());
    change.new_value = Some("blocked".into());
    change.body = "Esperamos la pieza <motor> & el técnico".into();
    change.subject = "Cúpula\r\nBcc: evil@example.org".into();
    let audience = audience();
    let to = recipients_of(&change, &audience);
    let event = Event::of(&change).unwrap();
    let mail = render(&config(), &change, &event, &to[0]);
    assert_eq!(
        mail.subject,
        "[OBS-2026-00009] Cúpula  Bcc: evil@example.org"
    );
    assert!(
        mail.text.contains("«Abierta» a «Bloqueada»"),
        "{}",
        mail.text
    );
    assert!(mail
        .text
        .contains("> Esperamos la pieza <motor> & el técnico"));
    assert!(mail.text.contains("/tickets/OBS-2026-00009#entry-77"));
    assert!(mail
        .html
        .contains("Esperamos la pieza &lt;motor&gt; &amp; el técnico"));
    assert!(mail.html.contains("background:#1f4e8c"));
    assert!(mail.html.contains("Observatorio del Teide"));
    // The reporter's status mail is essential: no way out offered; a contact's copy has one.
    assert_eq!(mail.unsubscribe_url, None);
    let copy = render(&config(), &change, &event, &to[1]);
    assert!(copy
        .unsubscribe_url
        .as_deref()
        .unwrap()
        .ends_with("/account#notifications"));
    assert!(copy.text.contains("contacto de soporte de Club Orión"));
}

#[test]
fn the_mail_speaks_the_recipients_language() {
    let mut change = entry("status", AGENT, Role::Agent);
    change.old_value = Some("in_progress".into());
    change.new_value = Some("done".into());
    let mut audience = audience();
    audience.people[0].language = "en".into();
    let to = recipients_of(&change, &audience);
    let event = Event::of(&change).unwrap();
    let english = render(&config(), &change, &event, &to[0]);
    let spanish = render(&config(), &change, &event, &to[1]);
    assert!(
        english.text.starts_with("Hello Person 1,"),
        "{}",
        english.text
    );
    assert!(english.text.contains("View the request"));
    assert!(
        spanish.text.starts_with("Hola, Person 2:"),
        "{}",
        spanish.text
    );
    assert!(spanish.text.contains("Ver la solicitud"));
}

#[test]
fn a_voice_comment_waits_a_while_for_its_transcript() {
    let mut voice = entry("voice", REPORTER, Role::Client);
    voice.voice_state = Some("pending".into());
    let now = voice.entry_created_at;
    assert!(waits(&voice, now));
    assert!(!waits(&voice, now + TRANSCRIPT_WAIT));
    voice.voice_state = Some("done".into());
    assert!(!waits(&voice, now));
}

#[test]
fn a_plain_address_that_is_a_persons_own_follows_that_person() {
    let mut audience = audience();
    // Ana's own address is also listed as a plain contact; Marta's is the queue address.
    audience.contact_addresses = vec!["ANA@client.example".into()];
    let mut message = entry("message", REPORTER, Role::Client);
    message.queue_email = Some("marta@obs.example".into());
    // Ana writes: she is not mailed at the plain address; the queue (Marta) is, as herself.
    let to = recipients_of(&message, &audience);
    assert_eq!(addresses(&to), ["marta@obs.example"]);
    assert_eq!(to[0].name.as_deref(), Some("Person 3"));
    // Opted out as a person, the plain address does not get round it.
    audience.opt_outs = vec![(REPORTER, NotifyRule::ReplyToContacts.code().into())];
    let mut reply = entry("message", AGENT, Role::Agent);
    reply.created_by = CONTACT;
    audience.people[1].support_contact = false;
    assert!(!addresses(&recipients_of(&reply, &audience)).contains(&"ana@client.example"));
    // Positive control: without the opt-out the plain address reaches Ana.
    audience.opt_outs.clear();
    assert!(addresses(&recipients_of(&reply, &audience)).contains(&"ana@client.example"));
}

#[test]
fn a_client_changing_the_status_of_an_unassigned_request_reaches_staff() {
    let mut cancel = entry("status", REPORTER, Role::Client);
    cancel.old_value = Some("open".into());
    cancel.new_value = Some("cancelled".into());
    let to = recipients_of(&cancel, &audience());
    assert!(addresses(&to).contains(&"marta@obs.example"));
    assert!(!addresses(&to).contains(&"ana@client.example"), "the actor");
}

#[test]
fn line_breaks_and_markup_of_a_message_are_kept_as_text_in_the_html() {
    let mut reply = entry("message", AGENT, Role::Agent);
    reply.body = "Línea uno\n<script>alert(1)</script>".into();
    reply.subject = "<b>Cúpula</b>".into();
    let audience = audience();
    let to = recipients_of(&reply, &audience);
    let event = Event::of(&reply).unwrap();
    let mail = render(&config(), &reply, &event, &to[0]);
    assert!(mail.html.contains("Línea uno<br>"));
    assert!(mail.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!mail.html.contains("<script>"));
    assert!(!mail.html.contains("<b>Cúpula</b>"));
    assert!(
        mail.text.contains("> <script>alert(1)</script>"),
        "plain text stays as typed"
    );
}
