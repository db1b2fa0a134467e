//! A new request: type, telescope, priority, subject and comment. Staff opening one for a client
//! (after a phone call) also choose the organization.
//!
//! Nothing typed is lost on an error: after hydration the form stays as it is; before, the
//! server keeps the fields in a draft for this page (never in its address, see
//! `ui::form_draft`) and the form is filled again from there.

use crate::api::{ticket_choices, OpenTicket};
use crate::i18n::Msg;
use crate::model::{Priority, RequestType};
use crate::ui::components::{error_from_query, form_error, ErrorAlert};
use crate::ui::files::FileUploader;
use crate::ui::form_draft::use_form_draft;
use crate::ui::prefs::use_t;
use crate::ui::recorder::{RecorderHandle, VoiceRecorder};
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The form field a message is about, to mark it invalid.
fn field_of(message: Msg) -> &'static str {
    match message {
        Msg::ErrorCommentRequired | Msg::ErrorTextTooLong => "comment",
        Msg::ErrorSubjectTooLong => "subject",
        Msg::ErrorTelescopeUnknown => "telescope_id",
        Msg::ErrorOrganizationRequired => "organization_id",
        _ => "",
    }
}

#[component]
pub fn NewTicketPage() -> impl IntoView {
    let t = use_t();
    let Some(user) = use_portal().user else {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    };
    let staff = user.role.is_staff();
    // What a form posted without JavaScript typed, back with its error.
    let from_redirect = use_query_map().with_untracked(error_from_query);
    let typed = use_form_draft();
    let typed_type = typed.field("request_type");
    let typed_priority = typed.field("priority");
    let typed_subject = typed.field("subject");
    let typed_comment = typed.field("comment");
    let typed_telescope = typed.field("telescope_id");
    let typed_org = typed.field("organization_id");
    let open = ServerAction::<OpenTicket>::new();
    let outcome = Signal::derive(move || open.value().get().map(|r| r.map(|_| ())));
    let error = form_error(outcome, from_redirect);
    let invalid = move |field: &'static str| {
        move || {
            error
                .with(|e| e.as_ref().is_some_and(|e| field_of(e.message) == field))
                .to_string()
        }
    };
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(number)) = open.value().get() {
            navigate(&format!("/tickets/{number}?created=1"), Default::default());
        }
    });
    let choices = Resource::new(|| (), |_| ticket_choices());
    let uploading = RwSignal::new(false);
    // Send while recording stops the recorder; the form goes once the server has the audio.
    let voice = RecorderHandle::new();
    let sent = Signal::derive(move || matches!(open.value().get(), Some(Ok(_))));
    let request_type = RequestType::from_code(&typed_type).unwrap_or(RequestType::Question);
    let priority = Priority::from_code(&typed_priority).unwrap_or(Priority::Medium);

    view! {
        <Title text=t(Msg::NewRequest) />
        <div class="stack page-narrow">
            <a class="back-link" href="/">{t(Msg::BackToRequests)}</a>
            <h1>{t(Msg::NewRequest)}</h1>
            <p class="muted">{t(Msg::NewRequestIntro)}</p>
            <ActionForm action=open attr:class="card stack" attr:novalidate=true attr:enctype="multipart/form-data">
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                <fieldset class="field choice-group">
                    <legend>{t(Msg::RequestTypeLabel)}</legend>
                    <div class="choices">
                        {RequestType::ALL
                            .into_iter()
                            .map(|kind| {
                                view! {
                                    <label class="choice">
                                        <input
                                            type="radio"
                                            name="request_type"
                                            value=kind.code()
                                            checked=kind == request_type
                                        />
                                        <span>{t(kind.label())}</span>
                                    </label>
                                }
                            })
                            .collect_view()}
                    </div>
                </fieldset>
                <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                    {
                        let typed_telescope = typed_telescope.clone();
                        let typed_org = typed_org.clone();
                        move || {
                            let typed_telescope = typed_telescope.clone();
                            let typed_org = typed_org.clone();
                            Suspend::new(async move {
                                let organizations = choices.await.map(|c| c.organizations).unwrap_or_default();
                                view! {
                                    {staff
                                        .then(|| {
                                            view! {
                                                <div class="field">
                                                    <label for="organization">{t(Msg::Organization)}</label>
                                                    <select
                                                        class="input"
                                                        id="organization"
                                                        name="organization_id"
                                                        required=true
                                                        aria-invalid=invalid("organization_id")
                                                    >
                                                        <option value="">{t(Msg::ChooseOrganization)}</option>
                                                        {organizations
                                                            .iter()
                                                            .map(|org| {
                                                                let value = org.id.to_string();
                                                                let selected = value == typed_org;
                                                                view! { <option value=value selected=selected>{org.name.clone()}</option> }
                                                            })
                                                            .collect_view()}
                                                    </select>
                                                </div>
                                            }
                                        })}
                                    <div class="field">
                                        <label for="telescope">{t(Msg::Telescope)}</label>
                                        <select
                                            class="input"
                                            id="telescope"
                                            name="telescope_id"
                                            aria-invalid=invalid("telescope_id")
                                        >
                                            <option value="">{t(Msg::NoTelescope)}</option>
                                            {organizations
                                                .into_iter()
                                                .map(|org| {
                                                    let options = org
                                                        .telescopes
                                                        .into_iter()
                                                        .map(|tel| {
                                                            let value = tel.id.to_string();
                                                            let selected = value == typed_telescope;
                                                            view! { <option value=value selected=selected>{tel.name}</option> }
                                                        })
                                                        .collect_view();
                                                    if staff {
                                                        view! { <optgroup label=org.name>{options}</optgroup> }.into_any()
                                                    } else {
                                                        options.into_any()
                                                    }
                                                })
                                                .collect_view()}
                                        </select>
                                    </div>
                                }
                            })
                        }
                    }
                </Suspense>
                <fieldset class="field choice-group">
                    <legend>{t(Msg::PriorityLabel)}</legend>
                    <div class="choices">
                        {Priority::ALL
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <label class=format!("choice choice-priority-{}", p.code())>
                                        <input type="radio" name="priority" value=p.code() checked=p == priority />
                                        <span>{t(p.label())} " (" {p.value()} ")"</span>
                                    </label>
                                }
                            })
                            .collect_view()}
                    </div>
                    <p class="field-hint">{t(Msg::PriorityHint)}</p>
                </fieldset>
                <div class="field">
                    <label for="subject">{t(Msg::Subject)}</label>
                    <input
                        class="input"
                        id="subject"
                        name="subject"
                        maxlength="200"
                        value=typed_subject
                        aria-describedby="subject-hint"
                        aria-invalid=invalid("subject")
                    />
                    <p class="field-hint" id="subject-hint">{t(Msg::SubjectHint)}</p>
                </div>
                <div class="field">
                    <label for="comment">{t(Msg::Comment)}</label>
                    <textarea
                        class="input"
                        id="comment"
                        name="comment"
                        rows="8"
                        // A voice request may come without text.
                        required=move || !voice.attached.get()
                        aria-describedby="comment-hint"
                        aria-invalid=invalid("comment")
                    >
                        {typed_comment}
                    </textarea>
                    <p class="field-hint" id="comment-hint">{t(Msg::CommentHint)}</p>
                </div>
                <VoiceRecorder id="new-voice" handle=voice sent />
                <FileUploader uploading sent />
                <button
                    type="submit"
                    class="btn btn-primary btn-block"
                    data-testid="send-request"
                    aria-busy=move || (open.pending().get() || voice.queued.get()).to_string()
                    disabled=move || open.pending().get() || uploading.get()
                >
                    {move || {
                        t(if uploading.get() {
                            Msg::WaitingForUploads
                        } else if voice.queued.get() {
                            Msg::RecorderSendWaits
                        } else if open.pending().get() {
                            Msg::Sending
                        } else {
                            Msg::SendRequest
                        })
                    }}
                </button>
            </ActionForm>
        </div>
    }
    .into_any()
}
