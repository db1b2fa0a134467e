//! Choosing a time zone: the observatory's (Branding) or one's own (My account). The list of
//! zones comes from the server, which holds the zone database; the page's code does not.

use super::prefs::{use_prefs, use_t};
use crate::api::time_zones;
use crate::i18n::Msg;
use crate::use_zone;
use leptos::prelude::*;

/// A `time_zone` field of the form around it. `observatory_setting`: the observatory's zone, on
/// the administrators' form; `None` on a person's own form, which offers "the observatory's"
/// first.
#[component]
pub fn TimeZoneSelect(hint: Msg, observatory_setting: Option<String>) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let choices = Resource::new(|| (), |_| time_zones());
    let for_person = observatory_setting.is_none();
    // Until the list arrives: the observatory's form sends its zone as it is; a person's form
    // sends no zone at all, which keeps theirs.
    let waiting = StoredValue::new(
        observatory_setting
            .clone()
            .map(|zone| (zone, false))
            .unwrap_or_else(|| (use_zone().name, true)),
    );
    view! {
        <div class="field">
            <label for="time-zone">{t(Msg::TimeZone)}</label>
            <Suspense fallback=move || waiting.with_value(|(zone, disabled)| only_zone(zone, *disabled))>
                {move || Suspend::new(async move {
                    let (zone, disabled) = waiting.get_value();
                    match choices.await {
                        Ok(choices) => {
                            let selected = if for_person {
                                choices.own.clone().unwrap_or_default()
                            } else {
                                choices.observatory.clone()
                            };
                            let observatory_choice = for_person.then(|| {
                                let label = Msg::ObservatoryZoneChoice
                                    .fill(lang, &[("zone", &choices.observatory)]);
                                view! { <option value="" selected=selected.is_empty()>{label}</option> }
                            });
                            view! {
                                <select class="input" id="time-zone" name="time_zone" aria-describedby="time-zone-hint">
                                    {observatory_choice}
                                    {choices
                                        .names
                                        .into_iter()
                                        .map(|name| {
                                            let chosen = name == selected;
                                            let label = name.clone();
                                            view! { <option value=name selected=chosen>{label}</option> }
                                        })
                                        .collect_view()}
                                </select>
                            }
                            .into_any()
                        }
                        Err(_) => only_zone(&zone, disabled).into_any(),
                    }
                })}
            </Suspense>
            <p class="field-hint" id="time-zone-hint">{t(hint)}</p>
        </div>
    }
}

/// The field with only the zone it had, while (or if) the list cannot be shown.
fn only_zone(zone: &str, disabled: bool) -> impl IntoView {
    view! {
        <select class="input" id="time-zone" name="time_zone" disabled=disabled aria-describedby="time-zone-hint">
            <option value=zone.to_string() selected=true>{zone.to_string()}</option>
        </select>
    }
}
