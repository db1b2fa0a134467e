//! Tickets on a real database: opening, numbering, the timeline, statuses, assignment, lists,
//! search, telescope histories, and that nobody reaches another tenant's tickets.

use crate::common;

use app::backend::accounts::Viewer;
use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::search::{document_terms, DocumentScope, SearchQuery, SearchScope};
use app::backend::storage::accounts::{NewObservatory, NewTelescope};
use app::backend::storage::tickets::{
    MatchedText, NewEntry, Selection, TicketChange, SEARCH_CANDIDATES, SEARCH_PARTITION_SIZE,
};
use app::backend::storage::Db;
use app::backend::tickets::{self, NewTicket, Opened};
use app::i18n::{Lang, Msg};
use app::model::{
    AssigneeFilter, Change, EntryKind, Exactness, Priority, RequestType, Role, Status,
    TicketFilter, TicketSort, TicketView,
};
use common::{config, person, user_msg, world, World};
use std::collections::HashSet;
use std::time::Duration;

/// One observatory with two client organizations, staff, and a telescope each.
struct Site {
    world: World,
    events: EventBus,
    config: Config,
    admin: Viewer,
    agent: Viewer,
    ana: Viewer,
    bruno: Viewer,
    /// A client of the other organization.
    carla: Viewer,
    other_org: i64,
    telescope: i64,
    other_telescope: i64,
}

async fn site() -> Site {
    let world = world().await;
    let db = &world.db;
    let other_org = db
        .insert_organization(world.observatory_id, "Grupo Vega")
        .await
        .unwrap();
    let telescope = db
        .insert_telescope(NewTelescope {
            observatory_id: world.observatory_id,
            organization_id: world.organization_id,
            name: "Andrómeda 1",
            model: "CDK20",
            location: "Cúpula 2",
            notes: "",
        })
        .await
        .unwrap();
    let other_telescope = db
        .insert_telescope(NewTelescope {
            observatory_id: world.observatory_id,
            organization_id: other_org,
            name: "Vega 1",
            model: "RC16",
            location: "Cúpula 5",
            notes: "",
        })
        .await
        .unwrap();
    let obs = world.observatory_id;
    let org = Some(world.organization_id);
    Site {
        admin: person(db, obs, None, "admin@obs.example", Role::Admin).await,
        agent: person(db, obs, None, "tomas@obs.example", Role::Agent).await,
        ana: person(db, obs, org, "ana@club.example", Role::Client).await,
        bruno: person(db, obs, org, "bruno@club.example", Role::Client).await,
        carla: person(db, obs, Some(other_org), "carla@vega.example", Role::Client).await,
        events: EventBus::new(),
        config: config(),
        other_org,
        telescope,
        other_telescope,
        world,
    }
}

fn request<'a>(subject: &'a str, comment: &'a str) -> NewTicket<'a> {
    NewTicket {
        organization_id: None,
        request_type: RequestType::Repair,
        telescope_id: None,
        priority: Priority::Medium,
        subject,
        comment,
        attachments: &[],
    }
}

impl Site {
    async fn open(&self, who: &Viewer, subject: &str, comment: &str) -> Opened {
        tickets::open_ticket(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            request(subject, comment),
        )
        .await
        .unwrap()
    }

    /// Adds a message (an internal note when `internal`) to the ticket `number`.
    async fn add_message(&self, who: &Viewer, number: &str, body: &str, internal: bool) {
        tickets::add_message(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            number,
            body,
            internal,
            &[],
        )
        .await
        .unwrap();
    }

    async fn list(&self, who: &Viewer, filter: TicketFilter) -> app::model::TicketPage {
        tickets::list(&self.world.db, who, &filter).await.unwrap()
    }

    async fn numbers(&self, who: &Viewer, filter: TicketFilter) -> Vec<String> {
        self.list(who, filter)
            .await
            .items
            .into_iter()
            .map(|t| t.number)
            .collect()
    }

    async fn search(&self, who: &Viewer, words: &str) -> Vec<String> {
        self.numbers(
            who,
            TicketFilter {
                query: words.into(),
                ..TicketFilter::default()
            },
        )
        .await
    }

    async fn set_status(
        &self,
        who: &Viewer,
        number: &str,
        to: Status,
        reason: &str,
    ) -> Result<(), Msg> {
        tickets::change_status(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            number,
            to,
            reason,
            false,
        )
        .await
        .map_err(|e| user_msg(Err::<(), _>(e)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbers_are_readable_and_unique_under_concurrency() {
    let site = site().await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut creations = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (db, events, config, ana) = (
            site.world.db.clone(),
            site.events.clone(),
            site.config.clone(),
            site.ana.clone(),
        );
        creations.spawn(async move {
            let subject = format!("Petición {i}");
            tickets::open_ticket(
                &db,
                &events,
                &config,
                &ana,
                request(&subject, "El foco no responde."),
            )
            .await
            .unwrap()
            .number
        });
    }
    let numbers: HashSet<String> = creations.join_all().await.into_iter().collect();
    assert_eq!(numbers.len(), 12, "every ticket has its own number");
    for n in 1..=12 {
        assert!(
            numbers.contains(&format!("TST-{year}-{n:05}")),
            "{numbers:?}"
        );
    }
}

/// Many people writing to one request at the same moment: each message is kept, none fails
/// with a busy database (writers wait their turn).
#[tokio::test]
async fn parallel_writers_on_one_request_all_succeed() {
    const WRITERS: usize = 24;
    let site = site().await;
    let opened = site.open(&site.ana, "Cúpula atascada", "No gira.").await;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        let (db, events, config) = (
            site.world.db.clone(),
            site.events.clone(),
            site.config.clone(),
        );
        let writer = if i % 2 == 0 {
            site.agent.clone()
        } else {
            site.ana.clone()
        };
        let number = opened.number.clone();
        writes.spawn(async move {
            tickets::add_message(
                &db,
                &events,
                &config,
                &writer,
                &number,
                &format!("Mensaje {i}"),
                false,
                &[],
            )
            .await
        });
    }
    for written in writes.join_all().await {
        written.expect("every writer's message is kept");
    }
    let ticket = tickets::ticket(&site.world.db, &site.config, &site.agent, &opened.number)
        .await
        .unwrap();
    let bodies: HashSet<&str> = ticket
        .timeline
        .iter()
        .filter(|entry| entry.kind == EntryKind::Message)
        .map(|entry| entry.body.as_str())
        .collect();
    for i in 0..WRITERS {
        assert!(
            bodies.contains(format!("Mensaje {i}").as_str()),
            "{bodies:?}"
        );
    }
    assert_eq!(bodies.len(), WRITERS);
}

#[tokio::test]
async fn a_client_opens_a_request_for_their_own_organization_only() {
    let site = site().await;
    let db = &site.world.db;
    let mut events = common::RecordedEvents::from_now(db).await;
    let opened = tickets::open_ticket(
        db,
        &site.events,
        &site.config,
        &site.ana,
        NewTicket {
            telescope_id: Some(site.telescope),
            priority: Priority::High,
            ..request(
                "",
                "La cúpula no gira desde ayer.\nYa reiniciamos el controlador.",
            )
        },
    )
    .await
    .unwrap();
    let event = events.next().await.unwrap();
    assert_eq!(event.kind, EntryKind::Created.code());
    assert_eq!(event.ticket_id, opened.id);

    let ticket = tickets::ticket(db, &site.config, &site.bruno, &opened.number)
        .await
        .unwrap();
    assert_eq!(
        ticket.subject, "La cúpula no gira desde ayer.",
        "subject from the comment"
    );
    assert_eq!(ticket.priority, Priority::High);
    assert_eq!(ticket.status, Status::Open);
    assert_eq!(ticket.telescope.as_deref(), Some("Andrómeda 1"));
    assert_eq!(ticket.opened_by, "ana");
    assert_eq!(ticket.timeline.len(), 1);
    assert_eq!(ticket.timeline[0].kind, EntryKind::Created);
    assert!(ticket.timeline[0].body.contains("reiniciamos"));
    assert_eq!(ticket.actions.statuses, vec![Status::Cancelled]);
    assert!(!ticket.actions.internal_notes && !ticket.actions.assign);

    // Each field is authorized on its own.
    let refused = |new: NewTicket<'static>| {
        let site = &site;
        async move {
            user_msg(
                tickets::open_ticket(&site.world.db, &site.events, &site.config, &site.ana, new)
                    .await,
            )
        }
    };
    assert_eq!(
        refused(NewTicket {
            telescope_id: Some(site.other_telescope),
            ..request("x", "y")
        })
        .await,
        Msg::ErrorTelescopeUnknown
    );
    assert_eq!(
        refused(NewTicket {
            organization_id: Some(site.other_org),
            ..request("x", "y")
        })
        .await,
        Msg::ErrorNotFound
    );
    assert_eq!(
        refused(request("Asunto", "   ")).await,
        Msg::ErrorCommentRequired
    );
    let long_subject: &'static str = Box::leak("s".repeat(201).into_boxed_str());
    assert_eq!(
        refused(request(long_subject, "y")).await,
        Msg::ErrorSubjectTooLong
    );
    assert!(
        events.next().await.is_none(),
        "refused requests publish nothing"
    );
    // Positive controls of the first two refusals: the same telescope and organization are
    // valid for their own client.
    let theirs = tickets::open_ticket(
        db,
        &site.events,
        &site.config,
        &site.carla,
        NewTicket {
            telescope_id: Some(site.other_telescope),
            organization_id: Some(site.other_org),
            ..request("x", "y")
        },
    )
    .await
    .unwrap();
    let theirs = tickets::ticket(db, &site.config, &site.carla, &theirs.number)
        .await
        .unwrap();
    assert_eq!(theirs.telescope.as_deref(), Some("Vega 1"));
}

#[tokio::test]
async fn staff_open_requests_on_behalf_of_a_client_organization() {
    let site = site().await;
    let db = &site.world.db;
    assert_eq!(
        user_msg(
            tickets::open_ticket(
                db,
                &site.events,
                &site.config,
                &site.agent,
                request("Llamada", "Por teléfono"),
            )
            .await
        ),
        Msg::ErrorOrganizationRequired
    );
    let opened = tickets::open_ticket(
        db,
        &site.events,
        &site.config,
        &site.agent,
        NewTicket {
            organization_id: Some(site.other_org),
            telescope_id: Some(site.other_telescope),
            request_type: RequestType::Visit,
            ..request("Visita técnica", "El cliente llamó para pedir una visita.")
        },
    )
    .await
    .unwrap();
    let seen_by_carla = tickets::ticket(db, &site.config, &site.carla, &opened.number)
        .await
        .unwrap();
    assert_eq!(seen_by_carla.request_type, RequestType::Visit);
    assert_eq!(
        user_msg(tickets::ticket(db, &site.config, &site.ana, &opened.number).await),
        Msg::ErrorNotFound
    );
}

#[tokio::test]
async fn internal_notes_never_reach_clients() {
    let site = site().await;
    let db = &site.world.db;
    let t = site
        .open(&site.ana, "Enfoque", "El enfocador hace ruido.")
        .await;
    site.add_message(
        &site.agent,
        &t.number,
        "Pieza pedida al proveedor rojo.",
        true,
    )
    .await;
    site.add_message(&site.agent, &t.number, "Estamos en ello.", false)
        .await;
    site.add_message(&site.ana, &t.number, "Gracias.", false)
        .await;
    assert_eq!(
        user_msg(
            tickets::add_message(
                db,
                &site.events,
                &site.config,
                &site.ana,
                &t.number,
                "secreto",
                true,
                &[]
            )
            .await
        ),
        Msg::ErrorForbidden
    );
    assert_eq!(
        user_msg(
            tickets::add_message(
                db,
                &site.events,
                &site.config,
                &site.ana,
                &t.number,
                "  ",
                false,
                &[]
            )
            .await
        ),
        Msg::ErrorMessageRequired
    );

    let staff_view = tickets::ticket(db, &site.config, &site.agent, &t.number)
        .await
        .unwrap();
    let kinds: Vec<EntryKind> = staff_view.timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EntryKind::Created,
            EntryKind::Note,
            EntryKind::Message,
            EntryKind::Message
        ]
    );
    assert!(staff_view.timeline[1].internal && staff_view.timeline[1].by_staff);
    assert!(
        staff_view.timeline[1].body.contains("proveedor"),
        "positive control of the client's view below"
    );

    let client_view = tickets::ticket(db, &site.config, &site.ana, &t.number)
        .await
        .unwrap();
    assert!(client_view.timeline.iter().all(|e| !e.internal));
    assert!(!client_view
        .timeline
        .iter()
        .any(|e| e.body.contains("proveedor")));
    assert_eq!(client_view.timeline.len(), 3);

    // Nor through search.
    assert!(site.search(&site.ana, "proveedor").await.is_empty());
    assert_eq!(
        site.search(&site.agent, "proveedor").await,
        vec![t.number.clone()]
    );
}

#[tokio::test]
async fn statuses_follow_the_rules_of_staff_and_clients() {
    let site = site().await;
    let t = site
        .open(&site.ana, "Montura", "La montura pierde la posición.")
        .await;
    // Blocking needs a reason.
    assert_eq!(
        site.set_status(&site.agent, &t.number, Status::Blocked, " ")
            .await,
        Err(Msg::ErrorBlockedReasonRequired)
    );
    site.set_status(
        &site.agent,
        &t.number,
        Status::Blocked,
        "Esperamos el registro del cliente",
    )
    .await
    .unwrap();
    // The client cannot move it forward, only cancel it.
    assert_eq!(
        site.set_status(&site.ana, &t.number, Status::InProgress, "")
            .await,
        Err(Msg::ErrorStatusNotAllowed)
    );
    assert_eq!(
        site.set_status(&site.agent, &t.number, Status::Blocked, "otra vez")
            .await,
        Err(Msg::ErrorStatusUnchanged)
    );
    site.set_status(&site.agent, &t.number, Status::Done, "")
        .await
        .unwrap();
    // Done: the client may reopen it within the window, and may not write to it meanwhile.
    assert_eq!(
        user_msg(
            tickets::add_message(
                &site.world.db,
                &site.events,
                &site.config,
                &site.ana,
                &t.number,
                "hola",
                false,
                &[],
            )
            .await
        ),
        Msg::ErrorTicketClosed
    );
    site.set_status(&site.ana, &t.number, Status::Open, "Vuelve a fallar")
        .await
        .unwrap();
    site.set_status(&site.bruno, &t.number, Status::Cancelled, "")
        .await
        .unwrap();
    assert_eq!(
        site.set_status(&site.ana, &t.number, Status::Open, "")
            .await,
        Err(Msg::ErrorStatusNotAllowed),
        "a cancelled request is not reopened by the client"
    );

    let ticket = tickets::ticket(&site.world.db, &site.config, &site.ana, &t.number)
        .await
        .unwrap();
    let changes: Vec<(Option<Status>, Status, String)> = ticket
        .timeline
        .iter()
        .filter_map(|e| match &e.change {
            Some(Change::Status { from, to }) => Some((*from, *to, e.body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                Some(Status::Open),
                Status::Blocked,
                "Esperamos el registro del cliente".into()
            ),
            (Some(Status::Blocked), Status::Done, String::new()),
            (Some(Status::Done), Status::Open, "Vuelve a fallar".into()),
            (Some(Status::Open), Status::Cancelled, String::new()),
        ]
    );
    assert!(ticket.closed_at.is_some());
    assert_eq!(
        ticket.timeline.last().unwrap().author.as_deref(),
        Some("bruno")
    );
}

#[tokio::test]
async fn reopening_ends_with_the_window_and_stale_changes_are_refused() {
    let mut site = site().await;
    site.config.reopen_window = Duration::ZERO;
    let t = site.open(&site.ana, "Cámara", "La cámara no enfría.").await;
    site.set_status(&site.agent, &t.number, Status::Done, "")
        .await
        .unwrap();
    assert_eq!(
        site.set_status(&site.ana, &t.number, Status::Open, "")
            .await,
        Err(Msg::ErrorStatusNotAllowed)
    );
    // A change made against a status that is no longer current changes nothing.
    let applied = site
        .world
        .db
        .record_change(
            site.world.observatory_id,
            t.id,
            TicketChange {
                status: Some(("in_progress".into(), false)),
                expected_status: Some("open".into()),
                ..TicketChange::default()
            },
            NewEntry {
                kind: "status",
                internal: false,
                author_id: Some(site.agent.user_id),
                body: "",
                old_value: Some("open".into()),
                new_value: Some("in_progress".into()),
                terms: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(applied, None);
    let ticket = tickets::ticket(&site.world.db, &site.config, &site.agent, &t.number)
        .await
        .unwrap();
    assert_eq!(ticket.status, Status::Done);
    assert_eq!(ticket.timeline.len(), 2);
}

#[tokio::test]
async fn staff_assign_take_and_prioritise() {
    let site = site().await;
    let db = &site.world.db;
    let t = site.open(&site.ana, "Guiado", "El guiado oscila.").await;
    let mut events = common::RecordedEvents::from_now(db).await;
    tickets::assign(
        db,
        &site.events,
        &site.agent,
        &t.number,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        events.next().await.unwrap().kind,
        EntryKind::Assignment.code()
    );
    tickets::assign(db, &site.events, &site.admin, &t.number, None, None)
        .await
        .unwrap();
    tickets::change_priority(
        db,
        &site.events,
        &site.admin,
        &t.number,
        Priority::High,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        user_msg(
            tickets::assign(
                db,
                &site.events,
                &site.ana,
                &t.number,
                Some(site.agent.user_id),
                None
            )
            .await
        ),
        Msg::ErrorForbidden
    );
    assert_eq!(
        user_msg(
            tickets::change_priority(db, &site.events, &site.ana, &t.number, Priority::Low, None)
                .await
        ),
        Msg::ErrorForbidden
    );
    // Only staff can be assignees.
    assert_eq!(
        user_msg(
            tickets::assign(
                db,
                &site.events,
                &site.agent,
                &t.number,
                Some(site.ana.user_id),
                None
            )
            .await
        ),
        Msg::ErrorAgentUnknown
    );
    assert_eq!(
        user_msg(
            tickets::change_priority(
                db,
                &site.events,
                &site.agent,
                &t.number,
                Priority::High,
                None
            )
            .await
        ),
        Msg::ErrorNothingChanged
    );
    let ticket = tickets::ticket(db, &site.config, &site.ana, &t.number)
        .await
        .unwrap();
    let changes: Vec<Change> = ticket
        .timeline
        .iter()
        .filter_map(|e| e.change.clone())
        .collect();
    assert_eq!(
        changes,
        vec![
            Change::Assignee {
                from: None,
                to: Some("tomas".into())
            },
            Change::Assignee {
                from: Some("tomas".into()),
                to: None
            },
            Change::Priority {
                from: Some(Priority::Medium),
                to: Priority::High
            },
        ]
    );
    assert_eq!(ticket.priority, Priority::High);
    assert_eq!(ticket.assignee, None);
}

#[tokio::test]
async fn lists_filter_count_sort_and_page_by_keyset() {
    let site = site().await;
    let db = &site.world.db;
    let mut opened = Vec::new();
    for i in 0..30 {
        let who = if i % 3 == 0 { &site.bruno } else { &site.ana };
        let new = NewTicket {
            priority: [Priority::Low, Priority::Medium, Priority::High][i % 3],
            request_type: if i % 2 == 0 {
                RequestType::Repair
            } else {
                RequestType::Update
            },
            telescope_id: (i % 5 == 0).then_some(site.telescope),
            ..request("Petición", "Texto de la petición")
        };
        opened.push(
            tickets::open_ticket(db, &site.events, &site.config, who, new)
                .await
                .unwrap(),
        );
    }
    site.open(&site.carla, "De otra organización", "No debe verse")
        .await;
    for t in &opened[..4] {
        site.set_status(&site.agent, &t.number, Status::Done, "")
            .await
            .unwrap();
    }
    tickets::assign(
        db,
        &site.events,
        &site.agent,
        &opened[5].number,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();

    // A client sees their organization's tickets only, with counts per view.
    let page = site.list(&site.ana, TicketFilter::default()).await;
    assert_eq!(
        (page.counts.all, page.counts.open, page.counts.closed),
        (30, 26, 4)
    );
    assert_eq!(page.items.len(), 25);
    assert_eq!(
        page.items[0].number, opened[5].number,
        "latest activity first"
    );
    // Keyset pages neither overlap nor skip.
    let mut seen: Vec<String> = page.items.iter().map(|t| t.number.clone()).collect();
    let second = site
        .list(
            &site.ana,
            TicketFilter {
                after: page.next.clone(),
                ..TicketFilter::default()
            },
        )
        .await;
    assert_eq!(second.next, None);
    seen.extend(second.items.iter().map(|t| t.number.clone()));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (30, 30));

    let count = |filter: TicketFilter, who: &'static str| {
        let site = &site;
        async move {
            let viewer = match who {
                "ana" => &site.ana,
                _ => &site.agent,
            };
            site.list(viewer, filter).await.items.len()
        }
    };
    assert_eq!(
        count(
            TicketFilter {
                view: TicketView::Closed,
                ..Default::default()
            },
            "ana"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            TicketFilter {
                status: Some(Status::Done),
                ..Default::default()
            },
            "ana"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            TicketFilter {
                request_type: Some(RequestType::Update),
                ..Default::default()
            },
            "ana"
        )
        .await,
        15
    );
    assert_eq!(
        count(
            TicketFilter {
                priority: Some(Priority::High),
                ..Default::default()
            },
            "ana"
        )
        .await,
        10
    );
    assert_eq!(
        count(
            TicketFilter {
                telescope: Some(site.telescope),
                ..Default::default()
            },
            "ana"
        )
        .await,
        6
    );
    assert_eq!(
        count(
            TicketFilter {
                mine: true,
                ..Default::default()
            },
            "ana"
        )
        .await,
        20
    );
    assert_eq!(
        count(
            TicketFilter {
                mine: true,
                ..Default::default()
            },
            "agent"
        )
        .await,
        1
    );
    // Unassigned: every ticket but the one taken (31 - 1); of them, the 4 done are closed.
    let unassigned = site
        .list(
            &site.agent,
            TicketFilter {
                assignee: Some(AssigneeFilter::Unassigned),
                ..Default::default()
            },
        )
        .await
        .counts;
    assert_eq!(
        (unassigned.all, unassigned.open, unassigned.closed),
        (30, 26, 4)
    );
    assert_eq!(
        count(
            TicketFilter {
                organization: Some(site.other_org),
                ..Default::default()
            },
            "agent"
        )
        .await,
        1
    );
    // A client's organization filter cannot widen their scope.
    assert_eq!(
        count(
            TicketFilter {
                organization: Some(site.other_org),
                ..Default::default()
            },
            "ana"
        )
        .await,
        25
    );

    // The staff queue holds every organization; sorted by priority, then activity.
    let queue = site
        .list(
            &site.agent,
            TicketFilter {
                sort: TicketSort::Priority,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(queue.counts.all, 31);
    let priorities: Vec<Priority> = queue.items.iter().map(|t| t.priority).collect();
    let mut sorted = priorities.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(priorities, sorted);
    let mut all = queue.items.len();
    let mut next = queue.next;
    while let Some(after) = next {
        let page = site
            .list(
                &site.agent,
                TicketFilter {
                    sort: TicketSort::Priority,
                    after: Some(after),
                    ..Default::default()
                },
            )
            .await;
        all += page.items.len();
        next = page.next;
    }
    assert_eq!(all, 31);
    let created = site
        .list(
            &site.agent,
            TicketFilter {
                sort: TicketSort::Created,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        created.items[0].subject, "De otra organización",
        "newest first"
    );
}

/// How many tickets a view really holds: every page of it, walked to the end.
async fn walked(site: &Site, who: &Viewer, filter: &TicketFilter) -> i64 {
    let mut total = 0;
    let mut page = site.list(who, filter.clone()).await;
    loop {
        total += page.items.len() as i64;
        let Some(after) = page.next.take() else {
            return total;
        };
        let next = TicketFilter {
            after: Some(after),
            ..filter.clone()
        };
        page = site.list(who, next).await;
    }
}

#[tokio::test]
async fn kept_view_counts_follow_every_change() {
    let site = site().await;
    let db = &site.world.db;
    let mut opened = Vec::new();
    for i in 0..12 {
        let who = if i % 4 == 0 { &site.carla } else { &site.ana };
        opened.push(site.open(who, "Petición", "Texto").await);
    }
    let (blocked, done, cancelled) = (&opened[0], &opened[1], &opened[2]);
    site.set_status(&site.agent, &done.number, Status::Done, "")
        .await
        .unwrap();
    site.set_status(&site.ana, &cancelled.number, Status::Cancelled, "")
        .await
        .unwrap();
    site.set_status(
        &site.agent,
        &blocked.number,
        Status::Blocked,
        "Esperando al cliente",
    )
    .await
    .unwrap();
    // Assigned, reassigned, unassigned, and reopened by its client: each moves a count.
    for (ticket, to) in [
        (&opened[3], Some(site.agent.user_id)),
        (&opened[4], Some(site.admin.user_id)),
        (&opened[4], Some(site.agent.user_id)),
        (&opened[5], Some(site.agent.user_id)),
        (&opened[5], None),
        (done, Some(site.admin.user_id)),
    ] {
        tickets::assign(db, &site.events, &site.agent, &ticket.number, to, None)
            .await
            .unwrap();
    }
    site.set_status(&site.ana, &done.number, Status::Open, "")
        .await
        .unwrap();
    site.set_status(&site.agent, &opened[3].number, Status::Done, "")
        .await
        .unwrap();

    let kept_filters = [
        TicketFilter::default(),
        TicketFilter {
            organization: Some(site.other_org),
            ..TicketFilter::default()
        },
        TicketFilter {
            status: Some(Status::Blocked),
            ..TicketFilter::default()
        },
        TicketFilter {
            mine: true,
            ..TicketFilter::default()
        },
        TicketFilter {
            assignee: Some(AssigneeFilter::Unassigned),
            ..TicketFilter::default()
        },
        TicketFilter {
            assignee: Some(AssigneeFilter::User(site.admin.user_id)),
            organization: Some(site.world.organization_id),
            ..TicketFilter::default()
        },
    ];
    let mut checked = Vec::new();
    for who in [&site.agent, &site.ana, &site.carla] {
        for filter in &kept_filters {
            let counts = site.list(who, filter.clone()).await.counts;
            // A client's "mine" (opened by me) has no kept counts; everything else here has.
            let counted = filter.mine && !who.role.is_staff();
            let expected = if counted {
                Exactness::Capped
            } else {
                Exactness::Exact
            };
            assert_eq!(counts.exactness, expected, "{filter:?}");
            for (view, kept) in [
                (TicketView::All, counts.all),
                (TicketView::Open, counts.open),
                (TicketView::Closed, counts.closed),
            ] {
                let filter = TicketFilter {
                    view,
                    ..filter.clone()
                };
                assert_eq!(kept, walked(&site, who, &filter).await, "{filter:?}");
                checked.push(kept);
            }
        }
    }
    // The views above are not all empty or all alike: the comparison means something.
    assert_eq!(
        site.list(&site.agent, TicketFilter::default())
            .await
            .counts
            .all,
        12
    );
    assert!(checked.iter().collect::<HashSet<_>>().len() >= 5);

    // Filters without kept counts count rows instead, up to the cap.
    let counted = site
        .list(
            &site.agent,
            TicketFilter {
                priority: Some(Priority::Medium),
                ..TicketFilter::default()
            },
        )
        .await
        .counts;
    assert_eq!(counted.exactness, Exactness::Capped);
    assert_eq!((counted.all, counted.open, counted.closed), (12, 10, 2));
}

#[tokio::test]
async fn search_folds_accents_stems_ranks_and_highlights() {
    let site = site().await;
    let dome = site
        .open(
            &site.ana,
            "Cúpula atascada",
            "La cúpula no cierra con viento.",
        )
        .await;
    let scopes = site
        .open(
            &site.ana,
            "Revisión anual",
            "Revisar los telescopios y los espejos.",
        )
        .await;
    site.open(&site.ana, "Otra cosa", "Nada que ver.").await;
    let theirs = site
        .open(&site.carla, "Cúpula de Vega", "Su cúpula también.")
        .await;
    tickets::add_message(
        &site.world.db,
        &site.events,
        &site.config,
        &site.agent,
        &scopes.number,
        "The mirrors need cleaning",
        false,
        &[],
    )
    .await
    .unwrap();

    assert_eq!(
        site.search(&site.ana, "CUPULA").await,
        vec![dome.number.clone()]
    );
    assert_eq!(
        site.search(&site.ana, "telescopio").await,
        vec![scopes.number.clone()]
    );
    assert_eq!(
        site.search(&site.ana, "mirror").await,
        vec![scopes.number.clone()]
    );
    assert_eq!(
        site.search(&site.ana, "cupula viento").await,
        vec![dome.number.clone()]
    );
    assert!(
        site.search(&site.ana, "cupula lluvia").await.is_empty(),
        "every word must match"
    );
    assert_eq!(
        site.search(&site.ana, &dome.number).await,
        vec![dome.number.clone()]
    );
    // Staff find across organizations; clients never outside theirs.
    let staff: HashSet<String> = site
        .search(&site.agent, "cúpula")
        .await
        .into_iter()
        .collect();
    assert_eq!(
        staff,
        HashSet::from([dome.number.clone(), theirs.number.clone()])
    );

    let page = site
        .list(
            &site.ana,
            TicketFilter {
                query: "cupula".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(page.counts.all, 1);
    let item = &page.items[0];
    let marked: Vec<&str> = item
        .subject_hits
        .as_ref()
        .unwrap()
        .iter()
        .filter(|s| s.hit)
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(marked, vec!["Cúpula"]);
    let excerpt = item
        .excerpt
        .as_ref()
        .expect("an excerpt of the matching message");
    assert!(excerpt.iter().any(|s| s.hit && s.text == "cúpula"));
    // Filters still apply to search results.
    let closed = site
        .list(
            &site.ana,
            TicketFilter {
                query: "cupula".into(),
                view: TicketView::Closed,
                ..Default::default()
            },
        )
        .await;
    assert!(closed.items.is_empty());

    // A word ending in "*" matches the words it begins; without it, whole words only.
    assert_eq!(
        site.search(&site.ana, "telesc*").await,
        vec![scopes.number.clone()]
    );
    assert!(site.search(&site.ana, "telesc").await.is_empty());

    // Ranked: a match in the subject before one in a message, though the message is newer;
    // more occurrences before fewer.
    let in_subject = site
        .open(&site.ana, "El enfocador no responde", "Desde ayer.")
        .await;
    let in_message = site
        .open(&site.ana, "Consulta", "Creo que el enfocador falla.")
        .await;
    let twice = site
        .open(
            &site.ana,
            "Consulta",
            "El enfocador se para; reinicio el enfocador y vuelve a fallar el enfocador.",
        )
        .await;
    assert_eq!(
        site.search(&site.ana, "enfocador").await,
        vec![in_subject.number, twice.number, in_message.number]
    );
}

/// On PostgreSQL, makes the next search documents take ids two partitions of the index further
/// on, so a search must reach back through an empty partition to older ones. (SQLite's index
/// has no partitions: the search there reads the same.)
async fn skip_search_partitions(db: &Db) {
    if let Db::Postgres(pool) = db {
        sqlx::query(
            "SELECT setval('search_document_ids', (last_value / $1 + 2) * $1, false) \
             FROM search_document_ids",
        )
        .bind(SEARCH_PARTITION_SIZE)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn search_counts_say_when_older_texts_may_match_too() {
    let site = site().await;
    let ticket = site
        .open(&site.ana, "Anemómetro", "El anemómetro marca cero.")
        .await;
    let search = TicketFilter {
        query: "anemometro".into(),
        ..TicketFilter::default()
    };
    let counts = site.list(&site.ana, search.clone()).await.counts;
    assert_eq!((counts.all, counts.exactness), (1, Exactness::Exact));
    // Newer texts without the word, in a later part of the index: the older match is found.
    skip_search_partitions(&site.world.db).await;
    site.open(&site.bruno, "Pluviómetro", "Sin lecturas.").await;
    let page = site.list(&site.ana, search.clone()).await;
    assert_eq!(page.items[0].number, ticket.number);
    assert_eq!(
        (page.counts.all, page.counts.exactness),
        (1, Exactness::Exact)
    );
    // As many matching texts as a search ranks, the newest far from the oldest: older ones
    // would not be looked at.
    for i in 1..SEARCH_CANDIDATES {
        tickets::add_message(
            &site.world.db,
            &site.events,
            &site.config,
            &site.agent,
            &ticket.number,
            &format!("Revisado el anemómetro, paso {i}."),
            false,
            &[],
        )
        .await
        .unwrap();
    }
    let counts = site.list(&site.ana, search.clone()).await.counts;
    assert_eq!((counts.all, counts.exactness), (1, Exactness::AtLeast));
    assert_eq!(counts.format(counts.all, Lang::Es), "1+");
    // A filter that leaves none of them out of the view: older texts may still match.
    let visits = TicketFilter {
        request_type: Some(RequestType::Visit),
        ..search
    };
    let counts = site.list(&site.ana, visits).await.counts;
    assert_eq!((counts.all, counts.exactness), (0, Exactness::AtLeast));
}

#[tokio::test]
async fn a_telescope_history_lists_its_requests_newest_first() {
    let site = site().await;
    let db = &site.world.db;
    let mut numbers = Vec::new();
    for (kind, comment) in [
        (RequestType::Installation, "Instalar el telescopio"),
        (RequestType::Repair, "Reparar la montura"),
        (RequestType::Update, "Actualizar el firmware"),
    ] {
        let new = NewTicket {
            request_type: kind,
            telescope_id: Some(site.telescope),
            ..request("", comment)
        };
        numbers.push(
            tickets::open_ticket(db, &site.events, &site.config, &site.ana, new)
                .await
                .unwrap()
                .number,
        );
    }
    site.open(&site.ana, "Sin telescopio", "General").await;
    let history = tickets::telescope_history(db, &site.ana, site.telescope)
        .await
        .unwrap();
    assert_eq!(history.name, "Andrómeda 1");
    let listed: Vec<String> = history.tickets.iter().map(|t| t.number.clone()).collect();
    numbers.reverse();
    assert_eq!(listed, numbers);
    let staff = tickets::telescope_history(db, &site.agent, site.telescope)
        .await
        .unwrap();
    assert_eq!(staff.tickets.len(), 3);
    assert_eq!(
        user_msg(tickets::telescope_history(db, &site.carla, site.telescope).await),
        Msg::ErrorNotFound
    );
}

/// The access matrix for tickets: another organization's or observatory's tickets answer
/// "not found" to every operation, as if they did not exist.
#[tokio::test]
async fn nobody_reaches_another_tenants_tickets() {
    let site = site().await;
    let db = &site.world.db;
    let other_observatory = db
        .insert_observatory(NewObservatory {
            slug: "otro",
            name: "Otro Observatorio",
            ticket_prefix: "OTR",
        })
        .await
        .unwrap();
    let other_org = db
        .insert_organization(other_observatory, "Club Lejano")
        .await
        .unwrap();
    let stranger_agent = person(
        db,
        other_observatory,
        None,
        "agente@otro.example",
        Role::Agent,
    )
    .await;
    let stranger_client = person(
        db,
        other_observatory,
        Some(other_org),
        "cli@lejano.example",
        Role::Client,
    )
    .await;

    let t = tickets::open_ticket(
        db,
        &site.events,
        &site.config,
        &site.ana,
        NewTicket {
            telescope_id: Some(site.telescope),
            ..request("Privada", "Solo para el club Andrómeda")
        },
    )
    .await
    .unwrap();
    for outsider in [&site.carla, &stranger_agent, &stranger_client] {
        let n = &t.number;
        assert_eq!(
            user_msg(tickets::ticket(db, &site.config, outsider, n).await),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(
                tickets::add_message(
                    db,
                    &site.events,
                    &site.config,
                    outsider,
                    n,
                    "hola",
                    false,
                    &[]
                )
                .await
            ),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(
                tickets::change_status(
                    db,
                    &site.events,
                    &site.config,
                    outsider,
                    n,
                    Status::Cancelled,
                    "",
                    false
                )
                .await
            ),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(
                tickets::assign(db, &site.events, outsider, n, Some(outsider.user_id), None).await
            ),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(
                tickets::change_priority(db, &site.events, outsider, n, Priority::Low, None).await
            ),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(tickets::telescope_history(db, outsider, site.telescope).await),
            Msg::ErrorNotFound
        );
        assert!(site.search(outsider, "Andrómeda").await.is_empty());
        assert!(site
            .list(outsider, TicketFilter::default())
            .await
            .items
            .iter()
            .all(|i| i.number != t.number));
    }
    // Nothing the outsiders tried went through…
    let n = &t.number;
    let seen = tickets::ticket(db, &site.config, &site.agent, n)
        .await
        .unwrap();
    assert_eq!(seen.timeline.len(), 1, "only its creation");
    assert_eq!(
        (seen.status, seen.priority, seen.assignee),
        (Status::Open, Priority::Medium, None)
    );
    // …and positive controls: the same calls from the ticket's side, on the same number and
    // telescope, find it. Clients read, write, search and cancel; staff assign and prioritise.
    tickets::ticket(db, &site.config, &site.ana, n)
        .await
        .unwrap();
    for insider in [&site.ana, &site.agent] {
        assert!(site.search(insider, "Andrómeda").await.contains(n));
        assert!(site
            .list(insider, TicketFilter::default())
            .await
            .items
            .iter()
            .any(|i| &i.number == n));
        let history = tickets::telescope_history(db, insider, site.telescope)
            .await
            .unwrap();
        assert!(history.tickets.iter().any(|i| &i.number == n));
    }
    site.add_message(&site.ana, n, "hola", false).await;
    tickets::assign(
        db,
        &site.events,
        &site.agent,
        n,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();
    tickets::change_priority(db, &site.events, &site.agent, n, Priority::Low, None)
        .await
        .unwrap();
    site.set_status(&site.ana, n, Status::Cancelled, "")
        .await
        .unwrap();
    // The other observatory's staff cannot assign to this observatory's agent either, nor can
    // this observatory's staff assign to theirs.
    let mine = site.open(&site.ana, "Asignación", "Prueba").await;
    assert_eq!(
        user_msg(
            tickets::assign(
                db,
                &site.events,
                &site.agent,
                &mine.number,
                Some(stranger_agent.user_id),
                None
            )
            .await
        ),
        Msg::ErrorAgentUnknown
    );
    // Positive control: this observatory's own agent can be assigned.
    tickets::assign(
        db,
        &site.events,
        &site.agent,
        &mine.number,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();
    // And a staff member cannot open a request for another observatory's organization.
    assert_eq!(
        user_msg(
            tickets::open_ticket(
                db,
                &site.events,
                &site.config,
                &site.agent,
                NewTicket {
                    organization_id: Some(other_org),
                    ..request("x", "y")
                },
            )
            .await
        ),
        Msg::ErrorOrganizationRequired
    );
    // Positive control: that observatory's own staff open one for it.
    let theirs = tickets::open_ticket(
        db,
        &site.events,
        &site.config,
        &stranger_agent,
        NewTicket {
            organization_id: Some(other_org),
            ..request("x", "y")
        },
    )
    .await
    .unwrap();
    tickets::ticket(db, &site.config, &stranger_client, &theirs.number)
        .await
        .unwrap();
}

/// Organization A's scope terms as a text of theirs is indexed with them, written out to be
/// typed into a text or a search: the form they have now, then the former `zzscope…` one.
fn typed_scope_terms(site: &Site, internal: bool) -> String {
    let (observatory, organization) = (site.world.observatory_id, site.world.organization_id);
    let indexed = document_terms(
        "",
        DocumentScope {
            observatory_id: observatory,
            organization_id: organization,
            internal,
        },
    );
    let former = format!(
        "zzscopeobs{observatory} zzscopeorg{organization}{}",
        if internal { " zzscopeinternal" } else { "" }
    );
    format!("{} {former}", indexed.trim())
}

/// Indexed scope terms of organization A, as typed into a search.
fn scope_terms_as_a_query(site: &Site, internal: bool) -> String {
    document_terms(
        "",
        DocumentScope {
            observatory_id: site.world.observatory_id,
            organization_id: site.world.organization_id,
            internal,
        },
    )
    .trim()
    .to_string()
}

/// The texts the search index yields for `words` searched as a client of organization A sees
/// them (A's observatory and organization, no internal notes).
async fn candidates_for_organization_a(site: &Site, words: &str) -> Vec<MatchedText> {
    let selection = Selection {
        observatory_id: site.world.observatory_id,
        ..Selection::default()
    };
    site.world
        .db
        .matching_texts(
            &selection,
            &SearchQuery::parse(words).unwrap(),
            SearchScope {
                observatory_id: Some(site.world.observatory_id),
                organization_id: Some(site.world.organization_id),
                internal: false,
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn scope_terms_typed_into_texts_or_searches_are_plain_words() {
    let site = site().await;
    let mine = site
        .open(&site.ana, "Anemómetro", "El anemómetro marca cero.")
        .await;
    site.add_message(
        &site.agent,
        &mine.number,
        "Anemómetro: proveedor avisado.",
        true,
    )
    .await;
    let search = TicketFilter {
        query: "anemometro".into(),
        ..TicketFilter::default()
    };
    let numbers_of = |page: &app::model::TicketPage| -> Vec<String> {
        page.items.iter().map(|i| i.number.clone()).collect()
    };
    let before = site.list(&site.ana, search.clone()).await;
    assert_eq!(numbers_of(&before), vec![mine.number.clone()]);
    assert_eq!(
        (before.counts.all, before.counts.exactness),
        (1, Exactness::Exact)
    );

    // A client of organization B types A's scope terms next to the word, in as many texts as
    // a search ranks: had they been indexed as A's, A's search would see only those.
    let planted = format!("Anemómetro {}", typed_scope_terms(&site, false));
    let theirs = site.open(&site.carla, "Anemómetro", &planted).await;
    for _ in 1..SEARCH_CANDIDATES {
        site.add_message(&site.carla, &theirs.number, &planted, false)
            .await;
    }
    let after = site.list(&site.ana, search.clone()).await;
    assert_eq!(numbers_of(&after), numbers_of(&before));
    assert_eq!(after.counts, before.counts);
    // The index itself yields A's search nothing of B's.
    let candidates = candidates_for_organization_a(&site, "anemometro").await;
    assert!(!candidates.is_empty());
    assert!(candidates.iter().all(|text| text.ticket_id == mine.id));

    // The internal term typed into B's own message hides nothing from B: the text is found,
    // by the words typed too.
    let hidden = format!("Pluviómetro {}", typed_scope_terms(&site, true));
    let rain = site.open(&site.carla, "Consulta", &hidden).await;
    assert_eq!(
        site.search(&site.carla, "pluviometro").await,
        vec![rain.number.clone()]
    );
    assert_eq!(
        site.search(&site.carla, &scope_terms_as_a_query(&site, true))
            .await,
        vec![rain.number.clone()]
    );

    // Typed into a search, scope terms find the texts that hold them as typed, never the
    // texts of the scope they name: not A's ticket, nor A's internal note.
    let both_of_b: HashSet<String> = HashSet::from([theirs.number.clone(), rain.number.clone()]);
    let by_staff: HashSet<String> = site
        .search(&site.agent, &scope_terms_as_a_query(&site, false))
        .await
        .into_iter()
        .collect();
    assert_eq!(by_staff, both_of_b);
    let internal_by_staff: HashSet<String> = site
        .search(&site.agent, &scope_terms_as_a_query(&site, true))
        .await
        .into_iter()
        .collect();
    assert_eq!(internal_by_staff, HashSet::from([rain.number.clone()]));
    assert!(site
        .search(&site.ana, &scope_terms_as_a_query(&site, false))
        .await
        .is_empty());
    // Positive control: B's own client, asking the same, finds B's texts that hold them.
    let by_carla: HashSet<String> = site
        .search(&site.carla, &scope_terms_as_a_query(&site, false))
        .await
        .into_iter()
        .collect();
    assert_eq!(by_carla, both_of_b);
    // Staff still find the note by its words.
    assert_eq!(
        site.search(&site.agent, "proveedor").await,
        vec![mine.number.clone()]
    );
}

/// The search part of migration 20261201000002 on documents indexed before it: each text's
/// own scope terms take the new form, and look-alikes typed into a text stay plain words.
#[tokio::test]
async fn the_migration_rewrites_only_the_scope_terms_a_text_was_given() {
    let site = site().await;
    let db = &site.world.db;
    let mine = site
        .open(&site.ana, "Higrómetro", "El higrómetro marca cien.")
        .await;
    site.add_message(&site.agent, &mine.number, "Higrómetro pedido.", true)
        .await;
    let planted = format!("Higrómetro {}", typed_scope_terms(&site, false));
    let theirs = site.open(&site.carla, "Consulta", &planted).await;
    // The documents as the former version indexed them: scope terms in the `zzscope` form
    // (no word had `_`, so every `_` began one). The migration's first part then runs again.
    let former = "UPDATE search_documents SET terms = \
                  replace(replace(replace(terms, ' _obs', ' zzscopeobs'), ' _org', ' zzscopeorg'), \
                  ' _internal', ' zzscopeinternal')";
    match db {
        Db::Sqlite(pool) => {
            sqlx::query(former).execute(pool).await.unwrap();
            sqlx::raw_sql("DROP TABLE form_drafts")
                .execute(pool)
                .await
                .unwrap();
            sqlx::raw_sql(include_str!(
                "../../../migrations/sqlite/20261201000002_form_drafts_search_scope.sql"
            ))
            .execute(pool)
            .await
            .unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::query(former).execute(pool).await.unwrap();
            sqlx::raw_sql("DROP TABLE form_drafts")
                .execute(pool)
                .await
                .unwrap();
            sqlx::raw_sql(include_str!(
                "../../../migrations/postgres/20261201000002_form_drafts_search_scope.sql"
            ))
            .execute(pool)
            .await
            .unwrap();
        }
    }
    assert_eq!(
        site.search(&site.ana, "higrometro").await,
        vec![mine.number.clone()]
    );
    assert_eq!(
        site.search(&site.bruno, "pedido").await,
        Vec::<String>::new(),
        "the note stays internal"
    );
    assert_eq!(
        site.search(&site.agent, "pedido").await,
        vec![mine.number.clone()]
    );
    assert_eq!(
        site.search(&site.carla, "higrometro").await,
        vec![theirs.number.clone()]
    );
    let candidates = candidates_for_organization_a(&site, "higrometro").await;
    assert!(!candidates.is_empty());
    assert!(candidates.iter().all(|text| text.ticket_id == mine.id));
}

/// Someone else assigned or re-prioritised a request after the person's page showed it: their
/// choice is not applied over the other one, they are told it changed, and choosing again from
/// what the page shows now works.
#[tokio::test]
async fn assignment_and_priority_changed_meanwhile_are_not_overwritten() {
    let site = site().await;
    let db = &site.world.db;
    let t = site.open(&site.ana, "Guiado", "El guiado falla.").await;
    let (admin, agent) = (&site.admin, &site.agent);

    // Both pages showed it unassigned; the admin gives it to the agent first.
    tickets::assign(
        db,
        &site.events,
        admin,
        &t.number,
        Some(agent.user_id),
        Some(None),
    )
    .await
    .unwrap();
    let late = tickets::assign(
        db,
        &site.events,
        agent,
        &t.number,
        Some(admin.user_id),
        Some(None),
    )
    .await;
    assert_eq!(user_msg(late), Msg::ErrorTicketChanged);
    let detail = tickets::ticket(db, &site.config, admin, &t.number)
        .await
        .unwrap();
    assert_eq!(detail.assignee_id, Some(agent.user_id));
    tickets::assign(
        db,
        &site.events,
        agent,
        &t.number,
        None,
        Some(Some(agent.user_id)),
    )
    .await
    .unwrap();

    // Both pages showed medium; the admin raises it first.
    tickets::change_priority(
        db,
        &site.events,
        admin,
        &t.number,
        Priority::High,
        Some(Priority::Medium),
    )
    .await
    .unwrap();
    let late = tickets::change_priority(
        db,
        &site.events,
        agent,
        &t.number,
        Priority::Low,
        Some(Priority::Medium),
    )
    .await;
    assert_eq!(user_msg(late), Msg::ErrorTicketChanged);
    let detail = tickets::ticket(db, &site.config, admin, &t.number)
        .await
        .unwrap();
    assert_eq!(detail.priority, Priority::High);
    assert_eq!(detail.assignee_id, None);
    tickets::change_priority(
        db,
        &site.events,
        agent,
        &t.number,
        Priority::Low,
        Some(Priority::High),
    )
    .await
    .unwrap();
}
