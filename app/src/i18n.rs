//! Every text the user sees comes from this catalogue. Each message carries its Spanish and
//! English text side by side, so a language can never be missing a string: the compiler checks it.

use serde::{Deserialize, Serialize};

/// The languages of the portal. Spanish is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Es, Lang::En];

    /// The BCP 47 code, as used in `lang` attributes, cookies and the database.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// Parses a code such as `es`, `en`, `en-GB` or `ES`; unknown languages give `None`.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language's own name, shown in the switcher whatever the current language is.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Es => "Español",
            Lang::En => "English",
        }
    }

    /// Picks the best supported language from an `Accept-Language` header, honouring q-values.
    pub fn negotiate(accept_language: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            if let Some(lang) = Lang::from_code(tag) {
                if best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, lang));
                }
            }
        }
        best.map(|(_, lang)| lang)
    }
}

macro_rules! catalogue {
    ($($key:ident => $es:literal, $en:literal;)*) => {
        /// A message of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Msg { $($key,)* }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key,)*];

            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$key, Lang::Es) => $es, (Msg::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

catalogue! {
    AppName => "Cúpula", "Cúpula";
    SkipToContent => "Saltar al contenido", "Skip to content";
    LanguageLabel => "Idioma", "Language";
    ThemeLabel => "Tema", "Theme";
    ThemeLight => "Claro", "Light";
    ThemeDark => "Oscuro", "Dark";
    ThemeNight => "Noche", "Night";
    ThemeNightHint => "Rojo sobre negro, para conservar la adaptación a la oscuridad",
        "Red on black, to keep your dark adaptation";
    SignIn => "Iniciar sesión", "Sign in";
    SignInTitle => "Accede al portal de soporte", "Sign in to the support portal";
    SignInIntro => "Usa el correo electrónico en el que recibiste la invitación del observatorio.",
        "Use the e-mail address at which you received the observatory's invitation.";
    SignOut => "Cerrar sesión", "Sign out";
    SigningIn => "Iniciando sesión…", "Signing in…";
    Email => "Correo electrónico", "E-mail";
    Password => "Contraseña", "Password";
    ShowPassword => "Mostrar", "Show";
    HidePassword => "Ocultar", "Hide";
    ShowPasswordLabel => "Mostrar la contraseña", "Show the password";
    HidePasswordLabel => "Ocultar la contraseña", "Hide the password";
    ErrorInvalidCredentials => "El correo electrónico o la contraseña no son correctos.",
        "The e-mail address or the password is not correct.";
    ErrorEmailRequired => "Escribe tu correo electrónico.", "Enter your e-mail address.";
    ErrorEmailInvalid => "Esa dirección de correo electrónico no es válida.",
        "That e-mail address is not valid.";
    ErrorNameRequired => "Escribe el nombre.", "Enter the name.";
    ErrorEmailTaken => "Ya hay una cuenta con ese correo electrónico.",
        "There is already an account with that e-mail address.";
    ErrorPasswordRequired => "Escribe tu contraseña.", "Enter your password.";
    ErrorPasswordTooShort => "La contraseña debe tener al menos 8 caracteres; mejor 15 o más.",
        "The password must have at least 8 characters; 15 or more is better.";
    ErrorPasswordTooLong => "La contraseña no puede superar los 1024 caracteres.",
        "The password cannot be longer than 1024 characters.";
    ErrorTooManyAttempts => "Demasiados intentos. Espera unos minutos y vuelve a probar.",
        "Too many attempts. Wait a few minutes and try again.";
    ErrorNotSetUp => "Este portal aún no está configurado. Quien lo administra debe crear la primera cuenta de administración con «cupula create-admin».",
        "This portal is not set up yet. Whoever runs it must create the first administrator account with `cupula create-admin`.";
    ErrorBusy => "El portal está atendiendo muchas peticiones a la vez. Vuelve a probar en unos segundos.",
        "The portal is handling many requests at once. Try again in a few seconds.";
    ErrorBodyTooLarge => "Lo enviado es demasiado grande. No se ha guardado nada; acórtalo y vuelve a enviarlo.",
        "What was sent is too large. Nothing was saved; shorten it and send it again.";
    GoBackKeepsTyping => "Vuelve a la página anterior con el botón «Atrás» del navegador: lo que escribiste sigue allí.",
        "Go back to the previous page with your browser's Back button: what you typed is still there.";
    ErrorRequestTimeout => "La petición tardó demasiado y se ha cancelado. Vuelve a probar.",
        "The request took too long and was cancelled. Try again.";
    ErrorAccountInactive => "Esta cuenta está desactivada. Contacta con el observatorio.",
        "This account is deactivated. Contact the observatory.";
    ErrorSessionExpired => "Tu sesión ha caducado. Vuelve a iniciar sesión.",
        "Your session has expired. Please sign in again.";
    ErrorForbidden => "No tienes permiso para hacer esto.", "You are not allowed to do this.";
    ErrorNotFound => "No hemos encontrado lo que buscas.", "We could not find what you are looking for.";
    ErrorInternal => "Algo ha fallado en el servidor. Inténtalo de nuevo en unos momentos.",
        "Something went wrong on the server. Please try again in a moment.";
    ErrorNetwork => "No se pudo contactar con el servidor. Comprueba tu conexión.",
        "Could not reach the server. Check your connection.";
    ErrorCrossSite => "La petición no procede de este portal y se ha rechazado.",
        "The request did not come from this portal and was refused.";
    NotFoundTitle => "Página no encontrada", "Page not found";
    NotFoundBody => "La dirección no existe o ya no está disponible.",
        "The address does not exist or is no longer available.";
    BackHome => "Volver al inicio", "Back to the start page";
    Name => "Nombre", "Name";
    Role => "Rol", "Role";
    Organization => "Organización", "Organization";
    RoleAdmin => "Administración del observatorio", "Observatory administrator";
    RoleAgent => "Personal técnico del observatorio", "Observatory agent";
    RoleClient => "Cliente", "Client";
    NoRequestsYet => "Todavía no hay solicitudes", "No requests yet";
    NoRequestsYetBody => "Cuando abras una solicitud, aparecerá aquí con su estado.",
        "When you open a request it will appear here with its status.";
    SignedOut => "Has cerrado la sesión.", "You have signed out.";
    Close => "Cerrar", "Close";
    Loading => "Cargando…", "Loading…";
    StatusOpen => "Abierta", "Open";
    StatusInProgress => "En progreso", "In progress";
    StatusBlocked => "Bloqueada", "Blocked";
    StatusDone => "Finalizada", "Done";
    StatusCancelled => "Cancelada", "Cancelled";
    PriorityLow => "Baja", "Low";
    PriorityMedium => "Media", "Medium";
    PriorityHigh => "Alta", "High";
    RequestQuestion => "Consulta", "Question";
    RequestInstallation => "Instalación", "Installation";
    RequestRepair => "Reparación", "Repair";
    RequestUpdate => "Actualización", "Update";
    RequestVisit => "Visita", "Visit";
    ErrorOrganizationTaken => "Ya hay una organización con ese nombre.", "There is already an organization with that name.";
    ErrorOrganizationRequired => "Elige la organización del cliente.", "Choose the client's organization.";
    ErrorAlreadyJoined => "Esta persona ya ha elegido su contraseña.", "This person has already chosen their password.";
    ErrorCannotDeactivateSelf => "No puedes desactivar tu propia cuenta.", "You cannot deactivate your own account.";
    ErrorSignInRequired => "Inicia sesión para continuar.", "Sign in to continue.";
    Sections => "Secciones", "Sections";
    Clients => "Clientes", "Clients";
    People => "Personas", "People";
    ClientsTitle => "Organizaciones cliente", "Client organizations";
    NewOrganization => "Nueva organización", "New organization";
    OrganizationName => "Nombre de la organización", "Organization name";
    Create => "Crear", "Create";
    OrganizationCreated => "Organización creada.", "Organization created.";
    NoOrganizations => "Todavía no hay organizaciones cliente", "No client organizations yet";
    NoOrganizationsBody => "Crea la primera para poder invitar a sus usuarios.", "Create the first one to invite its users.";
    TelescopesCount => "Telescopios", "Telescopes";
    Active => "Activa", "Active";
    Inactive => "Desactivada", "Deactivated";
    PeopleTitle => "Personas del portal", "People of the portal";
    InvitePerson => "Invitar a una persona", "Invite someone";
    InviteIntro => "Recibirá un correo con un enlace para elegir su contraseña. El enlace caduca en 7 días.",
        "They will receive an e-mail with a link to choose their password. The link expires in 7 days.";
    Language => "Idioma", "Language";
    ChooseOrganization => "Elige una organización", "Choose an organization";
    OrganizationHint => "Solo para clientes.", "Only for clients.";
    SendInvitation => "Enviar la invitación", "Send the invitation";
    InvitationSent => "Invitación enviada.", "Invitation sent.";
    StateActive => "Activa", "Active";
    StateInvited => "Invitación pendiente", "Invitation pending";
    StateDeactivated => "Desactivada", "Deactivated";
    State => "Estado", "State";
    Actions => "Acciones", "Actions";
    ResendInvitation => "Reenviar la invitación", "Resend the invitation";
    RevokeInvitation => "Anular la invitación", "Withdraw the invitation";
    InvitationRevoked => "Invitación anulada: su enlace ya no sirve y la cuenta queda desactivada.",
        "Invitation withdrawn: its link no longer works and the account is deactivated.";
    Deactivate => "Desactivar", "Deactivate";
    Reactivate => "Reactivar", "Reactivate";
    ChangesSaved => "Cambios guardados.", "Changes saved.";
    StaffNoOrganization => "Personal del observatorio", "Observatory staff";
    MyAccount => "Mi cuenta", "My account";
    Profile => "Datos personales", "Profile";
    SaveChanges => "Guardar los cambios", "Save the changes";
    ChangePasswordTitle => "Cambiar la contraseña", "Change the password";
    CurrentPassword => "Contraseña actual", "Current password";
    PasswordChanged => "Contraseña cambiada.", "Password changed.";
    ErrorCurrentPasswordWrong => "La contraseña actual no es correcta.", "The current password is not correct.";
    ErrorNameTooLong => "El nombre no puede superar los 200 caracteres.", "The name cannot be longer than 200 characters.";
    WhereSignedIn => "Dónde tienes la sesión iniciada", "Where you are signed in";
    Device => "Dispositivo", "Device";
    SignedInAt => "Inicio de sesión", "Signed in";
    LastSeen => "Última actividad", "Last activity";
    ThisDevice => "Este dispositivo", "This device";
    EndSession => "Cerrar esta sesión", "End this session";
    BackToClients => "← Organizaciones cliente", "← Client organizations";
    Details => "Datos", "Details";
    OrganizationActive => "Organización activa", "Organization active";
    OrganizationActiveHint => "Si la desactivas, sus usuarios salen del portal en ese momento y no podrán volver a entrar hasta que la reactives.",
        "If you deactivate it, its users are signed out at once and cannot sign in again until you reactivate it.";
    Telescopes => "Telescopios", "Telescopes";
    NoTelescopes => "Esta organización todavía no tiene telescopios.", "This organization has no telescopes yet.";
    AddTelescope => "Añadir un telescopio", "Add a telescope";
    TelescopeName => "Nombre del telescopio", "Telescope name";
    TelescopeModel => "Modelo o tipo", "Model or type";
    TelescopeLocation => "Ubicación (cúpula, pilar)", "Location (dome, pier)";
    Notes => "Notas", "Notes";
    Edit => "Editar", "Edit";
    Retire => "Retirar", "Retire";
    Reinstate => "Volver a poner en servicio", "Put back in service";
    Retired => "Retirado", "Retired";
    ErrorTextTooLong => "El texto es demasiado largo.", "The text is too long.";
    SupportContacts => "Contactos de soporte", "Support contacts";
    SupportContactsIntro => "Reciben todos los avisos de las solicitudes de esta organización: usuarios de la organización u otras direcciones de correo electrónico.",
        "They receive every report of this organization's requests: users of the organization or other e-mail addresses.";
    SupportContactSearch => "Busca un usuario o escribe un correo electrónico", "Search for a user or type an e-mail address";
    Add => "Añadir", "Add";
    RemoveContact => "Quitar {contact}", "Remove {contact}";
    NoSupportContacts => "Sin contactos de soporte todavía.", "No support contacts yet.";
    ErrorInvalidContactEmail => "Contiene un correo electrónico no válido.", "Contains an invalid e-mail address.";
    SupportContactsSaved => "Contactos de soporte guardados.", "Support contacts saved.";
    Branding => "Imagen del portal", "Portal branding";
    BrandingIntro => "Cómo ven el portal y los correos tus clientes. Los cambios se ven al guardar.",
        "How your clients see the portal and its e-mails. Changes show as soon as they are saved.";
    ObservatoryName => "Nombre del observatorio", "Observatory name";
    PortalSlug => "Identificador del portal", "Portal identifier";
    PortalSlugHint => "Letras minúsculas, números y guiones; forma parte de la dirección del portal.",
        "Lower-case letters, digits and hyphens; part of the portal's address.";
    SenderName => "Nombre del remitente de los correos", "Sender name of the e-mails";
    PrimaryColour => "Color principal", "Main colour";
    AccentColour => "Color de acento", "Accent colour";
    ColourHint => "Debe leerse bien con texto blanco encima (contraste de al menos 4,5:1).",
        "White text on it must stay readable (contrast of at least 4.5:1).";
    TimeZone => "Zona horaria", "Time zone";
    ObservatoryTimeZoneHint => "Las fechas del portal se muestran en esta zona (salvo a quien elija la suya) y los números de solicitud llevan su año local.",
        "The portal shows dates in this zone (except to people who choose their own), and request numbers carry its local year.";
    MyTimeZoneHint => "Las fechas se muestran en esta zona, con su nombre.", "Dates are shown in this zone, with its name.";
    ObservatoryZoneChoice => "La del observatorio ({zone})", "The observatory's ({zone})";
    ErrorUnknownTimeZone => "Esa zona horaria no existe. Elige una de la lista.", "That time zone does not exist. Choose one from the list.";
    ErrorSlugInvalid => "El identificador solo admite minúsculas, números y guiones (de 2 a 40).",
        "The identifier takes only lower-case letters, digits and hyphens (2 to 40).";
    ErrorSlugTaken => "Ese identificador ya lo usa otro observatorio.", "Another observatory already uses that identifier.";
    ErrorPrimaryUnreadable => "Con ese color principal el texto blanco no se leería bien. Elige un tono más oscuro.",
        "White text would be hard to read on that main colour. Choose a darker shade.";
    ErrorAccentUnreadable => "Con ese color de acento el texto blanco no se leería bien. Elige un tono más oscuro.",
        "White text would be hard to read on that accent colour. Choose a darker shade.";
    Notifications => "Avisos", "Notifications";
    NotificationEmail => "Correo para los avisos", "E-mail for notifications";
    NotificationEmailHint => "Déjalo vacío para recibir los avisos en tu correo de acceso. Una dirección nueva se activa cuando abras el enlace que le enviaremos.",
        "Leave it empty to get notifications at your log-in address. A new address takes effect when you open the link we send to it.";
    NotificationsGoTo => "Los avisos llegan ahora a {email}.", "Notifications now go to {email}.";
    NotificationPending => "Pendiente de confirmar: {email}.", "Waiting for confirmation: {email}.";
    ConfirmationSent => "Te hemos enviado un enlace a esa dirección para confirmarla. Caduca en 24 horas.",
        "We have sent a link to that address to confirm it. It expires in 24 hours.";
    ConfirmEmailTitle => "Confirma tu correo para los avisos", "Confirm your e-mail for notifications";
    ConfirmEmailButton => "Confirmar esta dirección", "Confirm this address";
    EmailConfirmed => "Listo: los avisos llegarán a {email}.", "Done: notifications will go to {email}.";
    MailConfirmSubject => "{observatory}: confirma tu correo para los avisos", "{observatory}: confirm your e-mail for notifications";
    MailConfirmBody => "Hola, {name}:\n\nPara recibir los avisos del portal de soporte de {observatory} en {email}, abre este enlace y pulsa «Confirmar esta dirección». Caduca en 24 horas:\n\n{link}\n\nSi no lo has pedido tú, ignora este mensaje: no cambia nada.\n",
        "Hello {name},\n\nTo get the {observatory} support portal's notifications at {email}, open this link and press \"Confirm this address\". It expires in 24 hours:\n\n{link}\n\nIf you did not ask for this, ignore this message: nothing changes.\n";
    Logo => "Logotipo", "Logo";
    LogoHint => "PNG, JPEG o WebP de hasta 2 MB. Se guarda a un tamaño máximo de 512 × 512 píxeles.",
        "PNG, JPEG or WebP up to 2 MB. It is stored at 512 × 512 pixels at most.";
    UploadLogo => "Subir el logotipo", "Upload the logo";
    LogoSaved => "Logotipo guardado.", "Logo saved.";
    CurrentLogo => "Logotipo actual", "Current logo";
    ErrorLogoTooLarge => "El archivo supera los 2 MB. Reduce la imagen y vuelve a intentarlo.",
        "The file is larger than 2 MB. Make the picture smaller and try again.";
    ErrorLogoFormat => "El logotipo debe ser una imagen PNG, JPEG o WebP.", "The logo must be a PNG, JPEG or WebP picture.";
    ErrorLogoUnreadable => "No se ha podido leer la imagen. Prueba con otro archivo.", "The picture could not be read. Try another file.";
    ErrorLogoMissing => "Elige un archivo de imagen.", "Choose a picture file.";
    ForgotPasswordLink => "¿Has olvidado tu contraseña?", "Forgot your password?";
    ForgotPasswordTitle => "Elige una contraseña nueva", "Choose a new password";
    ForgotPasswordIntro => "Escribe tu correo electrónico y te enviaremos un enlace para elegir una contraseña. Sirve también para tu primer acceso.",
        "Enter your e-mail address and we will send you a link to choose a password. It also works for your first access.";
    SendResetLink => "Enviarme el enlace", "Send me the link";
    ResetLinkSent => "Si hay una cuenta con ese correo electrónico, le hemos enviado un enlace. Caduca en una hora.",
        "If there is an account with that e-mail address, we have sent it a link. It expires in one hour.";
    BackToSignIn => "Volver a iniciar sesión", "Back to sign-in";
    NewPasswordTitle => "Elige tu contraseña", "Choose your password";
    NewPassword => "Contraseña nueva", "New password";
    PasswordHint => "Al menos 8 caracteres. Una frase larga es más segura y más fácil de recordar.",
        "At least 8 characters. A long phrase is safer and easier to remember.";
    SignOutOtherSessions => "Cerrar la sesión en todos los demás dispositivos",
        "Sign out on every other device";
    SavePassword => "Guardar la contraseña", "Save the password";
    PasswordSaved => "Contraseña guardada. Ya puedes iniciar sesión con ella.",
        "Password saved. You can sign in with it now.";
    LinkInvalidTitle => "Este enlace ya no sirve", "This link no longer works";
    LinkInvalidBody => "Puede que haya caducado, que ya se haya usado o que se haya sustituido por otro más reciente. Pide un enlace nuevo o pide al observatorio que te invite de nuevo.",
        "It may have expired, been used already or been replaced by a newer one. Ask for a new link, or ask the observatory to invite you again.";
    RequestNewLink => "Pedir un enlace nuevo", "Ask for a new link";
    ErrorLinkInvalid => "Este enlace ya no sirve.", "This link no longer works.";
    ErrorPasswordCommon => "Esa contraseña es de las más usadas y se adivina enseguida. Elige otra.",
        "That password is among the most used and is guessed at once. Choose another.";
    MailResetSubject => "{observatory}: elige una contraseña nueva", "{observatory}: choose a new password";
    MailResetBody => "Hola, {name}:\n\nHemos recibido una petición para elegir una contraseña nueva para {email} en el portal de soporte de {observatory}. Ábrela con este enlace, que caduca en una hora y sirve una sola vez:\n\n{link}\n\nSi no lo has pedido tú, ignora este mensaje: tu contraseña no cambia.\n",
        "Hello {name},\n\nWe received a request to choose a new password for {email} on the {observatory} support portal. Open this link, which expires in one hour and works once:\n\n{link}\n\nIf you did not ask for it, ignore this message: your password does not change.\n";
    MailInvitationSubject => "{observatory} te invita a su portal de soporte", "{observatory} invites you to its support portal";
    MailInvitationBody => "Hola, {name}:\n\n{observatory} te ha dado acceso a su portal de soporte. Allí podrás pedir ayuda sobre tus telescopios y seguir el estado de tus solicitudes. Elige tu contraseña con este enlace, que caduca en 7 días y sirve una sola vez:\n\n{link}\n\nPara iniciar sesión usarás {email}.\n",
        "Hello {name},\n\n{observatory} has given you access to its support portal, where you can ask for help with your telescopes and follow your requests. Choose your password with this link, which expires in 7 days and works once:\n\n{link}\n\nYou will sign in with {email}.\n";
    ErrorCommentRequired => "Describe en el comentario qué necesitas.", "Describe in the comment what you need.";
    ErrorSubjectTooLong => "El asunto no puede superar los 200 caracteres.", "The subject cannot be longer than 200 characters.";
    ErrorTelescopeUnknown => "Elige un telescopio en servicio de la organización.", "Choose a telescope in service of the organization.";
    ErrorStatusUnchanged => "La solicitud ya está en ese estado.", "The request already has that status.";
    ErrorStatusNotAllowed => "Ese cambio de estado no está permitido.", "That status change is not allowed.";
    ErrorBlockedReasonRequired => "Indica por qué queda bloqueada (por ejemplo, a la espera del cliente).",
        "Say why it is blocked (for example, waiting for the client).";
    ErrorTicketChanged => "Alguien ha cambiado esta solicitud mientras tanto. Recarga la página para ver el cambio.",
        "Someone changed this request meanwhile. Reload the page to see the change.";
    ErrorNothingChanged => "No hay nada que cambiar.", "There is nothing to change.";
    ErrorAgentUnknown => "Elige a una persona del personal del observatorio.", "Choose a member of the observatory's staff.";
    ErrorTicketClosed => "Esta solicitud está cerrada. Reábrela o crea una nueva.", "This request is closed. Reopen it or open a new one.";
    ErrorMessageRequired => "Escribe el mensaje.", "Write the message.";
    ErrorInvalidBody => "El cuerpo de la petición no es el JSON esperado.", "The request body is not the expected JSON.";
    ErrorInvalidChoice => "Elige una de las opciones.", "Choose one of the options.";
    ErrorInvalidEventId => "El último evento visto (Last-Event-ID o after) debe ser un número entero positivo.", "The last event seen (Last-Event-ID or after) must be a positive whole number.";
    ErrorFilterUnknown => "La lista no tiene ningún filtro «{name}».", "The list has no filter “{name}”.";
    ErrorFilterInvalid => "El valor del filtro «{name}» no es válido.", "The value of the filter “{name}” is not valid.";
    ErrorFilterRepeated => "El filtro «{name}» aparece más de una vez.", "The filter “{name}” is given more than once.";
    ErrorFileTooLarge => "El archivo es demasiado grande para adjuntarlo.", "The file is too large to attach.";
    ErrorFileEmpty => "El archivo está vacío.", "The file is empty.";
    ErrorFileNameRequired => "Falta el nombre del archivo.", "The file has no name.";
    ErrorFileLongerThanDeclared => "Llegaron más datos de los que el archivo anunciaba. No se ha guardado lo que sobraba.",
        "More data arrived than the file announced. The excess was not kept.";
    ErrorFileTypeNotAllowed => "Ese tipo de archivo no se admite. Puedes adjuntar fotos (JPEG, PNG, WebP, GIF, HEIC), vídeos (MP4, WebM, MOV), audio (WebM, Ogg, M4A, WAV), PDF, texto, CSV, ZIP y documentos de oficina.",
        "That type of file is not accepted. You can attach pictures (JPEG, PNG, WebP, GIF, HEIC), videos (MP4, WebM, MOV), audio (WebM, Ogg, M4A, WAV), PDF, text, CSV, ZIP and office documents.";
    ErrorVoiceNotAudio => "Eso no es una grabación de audio. Graba de nuevo o envía un audio WebM, Ogg, M4A o WAV.",
        "That is not an audio recording. Record again, or send WebM, Ogg, M4A or WAV audio.";
    ErrorVoiceTooLong => "La grabación es más larga de lo permitido. Envíala en partes más cortas.",
        "The recording is longer than allowed. Send it in shorter parts.";
    ErrorVoiceLanguage => "Ese idioma no se puede transcribir. Elige, por ejemplo, es o en.",
        "That language cannot be transcribed. Choose, for example, es or en.";
    ErrorVoiceRecordingGone => "Esa grabación ya no está en el portal (se guarda un día sin enviar). Graba de nuevo.",
        "That recording is no longer on the portal (unsent ones are kept for a day). Record again.";
    ErrorVoiceRecordingIncomplete => "La grabación aún no ha llegado entera. Espera a que termine de enviarse y vuelve a intentarlo.",
        "The recording has not fully arrived yet. Wait until it has been sent and try again.";
    ErrorVoiceBusy => "El portal está recibiendo muchas grabaciones a la vez. Inténtalo de nuevo en un momento.",
        "The portal is receiving many recordings at once. Try again in a moment.";
    ErrorQuotaExceeded => "La organización no tiene espacio suficiente para este archivo. Pide al observatorio que libere espacio.",
        "The organization does not have enough space left for this file. Ask the observatory to free some.";
    ErrorRequestFilesTooLarge => "Los archivos de un mismo envío son demasiado grandes en total. Envíalos en varias veces.",
        "Together, the files of one message are too large. Send them in several goes.";
    ErrorUploadOffsetConflict => "La subida no estaba en ese punto. Continúa desde lo que ya tiene el servidor.",
        "The upload was not at that point. Resume from what the server already has.";
    ErrorUploadInterrupted => "La transferencia se cortó. Lo recibido está guardado y la subida puede continuar.",
        "The transfer was cut off. What arrived is kept and the upload can resume.";
    ErrorNoFiles => "Elige al menos un archivo.", "Choose at least one file.";
    ErrorUploadLengthRequired => "La subida debe decir cuántos bytes tiene el archivo (Upload-Length).",
        "The upload must say how many bytes the file has (Upload-Length).";
    ErrorUploadContentType => "Los datos de una subida se envían como application/offset+octet-stream.",
        "An upload's data is sent as application/offset+octet-stream.";
    ErrorUploadRefused => "El servidor no ha aceptado el archivo.", "The server did not accept the file.";
    FilesLabel => "Archivos", "Files";
    FilesDropHere => "Arrastra aquí fotos, vídeos o documentos, o pega una imagen.",
        "Drag photos, videos or documents here, or paste an image.";
    FilesChoose => "Elegir archivos", "Choose files";
    FilesHint => "Hasta {size} por archivo. Puedes escribir mientras se suben.",
        "Up to {size} a file. You can keep writing while they upload.";
    FileUploading => "Subiendo…", "Uploading…";
    FileSpeedTimeLeft => "{speed}/s · quedan {time}", "{speed}/s · {time} left";
    FileResuming => "Continuando desde {percent} %", "Resuming from {percent} %";
    FileReconnecting => "Conexión perdida. Reintentando desde lo ya recibido…",
        "Connection lost. Retrying from what already arrived…";
    FileOffline => "Sin conexión. La subida seguirá sola cuando vuelva la red.",
        "No connection. The upload will go on by itself when the network is back.";
    FileDone => "Listo", "Done";
    FileFailed => "La subida se ha detenido. Lo ya recibido se conserva: pulsa «Reintentar».",
        "The upload stopped. What arrived is kept: press “Retry”.";
    FileRetry => "Reintentar", "Retry";
    FileRetryLabel => "Reintentar la subida de {name}", "Retry the upload of {name}";
    FileCancel => "Cancelar", "Cancel";
    FileRemove => "Quitar", "Remove";
    FileCancelLabel => "Cancelar la subida de {name}", "Cancel the upload of {name}";
    FileRemoveLabel => "Quitar {name}", "Remove {name}";
    FileProgressLabel => "Progreso de {name}", "Progress of {name}";
    FileDownload => "Descargar", "Download";
    FileKindText => "Texto", "Text";
    FilePdfFirstPage => "Primera página de {name}", "First page of {name}";
    FileVideoUnsupported => "Este navegador no puede reproducir el vídeo. Descárgalo para verlo.",
        "This browser cannot play the video. Download it to watch it.";
    LightboxClose => "Cerrar", "Close";
    LightboxPrevious => "Imagen anterior", "Previous image";
    LightboxNext => "Imagen siguiente", "Next image";
    LightboxPosition => "{n} de {total}", "{n} of {total}";
    WaitingForUploads => "Esperando a que terminen las subidas…", "Waiting for the uploads to finish…";
    LeaveWhileUploading => "Hay archivos subiéndose y, si sales de esta página, se detendrán. ¿Salir de todos modos?",
        "Files are still uploading, and leaving this page stops them. Leave anyway?";
    Requests => "Solicitudes", "Requests";
    RequestsQueue => "Cola de solicitudes", "Request queue";
    NewRequest => "Nueva solicitud", "New request";
    NewRequestIntro => "Cuéntanos qué necesitas. El equipo del observatorio te responderá aquí y te avisará de cada cambio.",
        "Tell us what you need. The observatory's team will answer here and let you know of every change.";
    RequestTypeLabel => "Tipo de solicitud", "Request type";
    Telescope => "Telescopio", "Telescope";
    NoTelescope => "Ninguno en concreto", "None in particular";
    PriorityLabel => "Prioridad", "Priority";
    PriorityHint => "Alta solo si el telescopio no puede trabajar.", "High only when the telescope cannot work.";
    Subject => "Asunto", "Subject";
    SubjectHint => "Opcional: si lo dejas vacío, usaremos el principio del comentario.",
        "Optional: if left empty, the start of the comment is used.";
    Comment => "Comentario", "Comment";
    CommentHint => "Qué ocurre, desde cuándo y qué has probado.", "What happens, since when, and what you have tried.";
    SendRequest => "Enviar la solicitud", "Send the request";
    Sending => "Enviando…", "Sending…";
    RequestReceived => "Hemos recibido tu solicitud {number}.", "Your request {number} has been received.";
    SearchLabel => "Buscar en las solicitudes", "Search the requests";
    SearchHint => "Termina una palabra con * para encontrar todas las que empiezan así: telesc*", "End a word with * to find every word that begins so: telesc*";
    Search => "Buscar", "Search";
    ViewAll => "Todas", "All";
    ViewOpen => "Abiertas", "Open";
    ViewClosed => "Cerradas", "Closed";
    StatusLabel => "Estado", "Status";
    AnyOption => "Cualquiera", "Any";
    Assignee => "Asignada a", "Assigned to";
    Unassigned => "Sin asignar", "Unassigned";
    MineStaff => "Asignadas a mí", "Assigned to me";
    MineClient => "Abiertas por mí", "Opened by me";
    SortBy => "Ordenar por", "Sort by";
    SortUpdated => "Última actividad", "Latest activity";
    SortCreated => "Fecha de apertura", "Date opened";
    SortPriority => "Prioridad", "Priority";
    Filters => "Filtros", "Filters";
    ApplyFilters => "Aplicar", "Apply";
    ClearFilters => "Quitar los filtros", "Clear the filters";
    NextPage => "Siguientes →", "Next →";
    FirstPage => "← Volver al principio", "← Back to the start";
    NoMatches => "Ninguna solicitud coincide", "No request matches";
    NoMatchesBody => "Prueba con otras palabras o quita algún filtro.", "Try other words or remove a filter.";
    UpdatedAt => "Actualizada", "Updated";
    CreatedAt => "Abierta el", "Opened on";
    OpenedBy => "Abierta por", "Opened by";
    History => "Historial", "History";
    EntryCreated => "{name} abrió la solicitud", "{name} opened the request";
    EntryMessage => "{name} escribió", "{name} wrote";
    EntryAttachment => "{name} adjuntó archivos", "{name} attached files";
    EntryVoice => "{name} envió un comentario de voz", "{name} sent a voice comment";
    VoiceUnsupported => "Este navegador no puede reproducir el audio. Descárgalo para escucharlo.",
        "This browser cannot play the audio. Download it to listen.";
    VoiceSpeed => "Velocidad", "Speed";
    VoiceSpeed1 => "1×", "1×";
    VoiceSpeed15 => "1,5×", "1.5×";
    VoiceSpeed2 => "2×", "2×";
    VoiceDuration => "Duración: {duration}", "Length: {duration}";
    VoiceTranscriptPending => "Transcribiendo el audio… Recarga la página en unos momentos para leerlo.",
        "Transcribing the audio… Reload the page in a few moments to read it.";
    VoiceTranscriptUnavailable => "La transcripción no está disponible en este portal. Escucha el audio.",
        "Transcription is not available on this portal. Listen to the audio.";
    VoiceTranscriptFailed => "No se pudo transcribir este audio. Escúchalo; el observatorio puede intentarlo de nuevo.",
        "This audio could not be transcribed. Listen to it; the observatory can try again.";
    VoiceTranscriptEmpty => "No se entendió ninguna palabra en el audio.", "No words were made out in the audio.";
    VoiceEdited => "Editado", "Edited";
    VoiceMachineTranscript => "Transcripción automática", "Automatic transcript";
    VoiceRequestSubject => "Solicitud por voz", "Voice request";
    EntryNote => "{name} dejó una nota interna", "{name} left an internal note";
    EntryStatus => "{name} cambió el estado de «{from}» a «{to}»", "{name} changed the status from “{from}” to “{to}”";
    EntryPriority => "{name} cambió la prioridad de «{from}» a «{to}»", "{name} changed the priority from “{from}” to “{to}”";
    EntryAssigned => "{name} asignó la solicitud a {to}", "{name} assigned the request to {to}";
    EntryUnassigned => "{name} quitó la asignación", "{name} removed the assignment";
    EntrySystem => "El portal", "The portal";
    Someone => "Alguien", "Someone";
    Internal => "Interna", "Internal";
    Reason => "Motivo", "Reason";
    AddMessage => "Añadir un mensaje", "Add a message";
    Message => "Mensaje", "Message";
    Send => "Enviar", "Send";
    InternalNoteOption => "Nota interna: solo la ve el personal del observatorio", "Internal note: only the observatory's staff see it";
    MessageAdded => "Mensaje añadido.", "Message added.";
    NewEntriesBelow => "{count} novedades más abajo ↓", "{count} new below ↓";
    ListChanged => "Solicitudes con cambios desde que abriste la lista: {count}. Mostrarlas", "Requests changed since you opened the list: {count}. Show them";
    BellLabel => "Tus notificaciones: {count} sin leer", "Your notifications: {count} unread";
    BellTitle => "Tus notificaciones", "Your notifications";
    BellEmpty => "No tienes notificaciones. Aquí verás lo que pase en tus solicitudes.", "You have no notifications. What happens on your requests will show here.";
    BellUnreadCount => "Sin leer: {count}", "Unread: {count}";
    BellMarkRead => "Marcar como leída", "Mark as read";
    BellMarkAllRead => "Marcar todas como leídas", "Mark all as read";
    BellUnread => "Sin leer", "Unread";
    BellRead => "Leída", "Read";
    PresenceViewing => "También en esta página: {names}", "Also on this page: {names}";
    PresenceWritingReply => "{name} está escribiendo una respuesta…", "{name} is writing a reply…";
    PresenceWritingNote => "{name} está escribiendo una nota interna…", "{name} is writing an internal note…";
    PresenceObservatoryReplying => "El observatorio está respondiendo…", "The observatory is replying…";
    ErrorRepliedMeanwhile => "Mientras escribías, alguien ha respondido (lo tienes aquí debajo). Léelo; si tu mensaje sigue haciendo falta, envíalo de todos modos. Lo que escribiste sigue aquí.",
        "While you were writing, someone replied (shown below). Read it; if your message is still needed, send it anyway. What you wrote is still here.";
    SendAnyway => "Enviar de todos modos", "Send anyway";
    ChangeStatus => "Cambiar el estado", "Change the status";
    NewStatus => "Estado nuevo", "New status";
    ReasonHint => "Obligatorio para «Bloqueada»: qué falta para seguir. El cliente lo verá.",
        "Required for “Blocked”: what is missing to go on. The client will see it.";
    CancelRequest => "Cancelar la solicitud", "Cancel the request";
    CancelExplained => "La solicitud se cerrará y el observatorio dejará de trabajar en ella.",
        "The request will be closed and the observatory will stop working on it.";
    ConfirmCancel => "Sí, cancelar la solicitud", "Yes, cancel the request";
    ReopenRequest => "Reabrir la solicitud", "Reopen the request";
    StatusChanged => "Estado cambiado.", "Status changed.";
    Assign => "Asignar", "Assign";
    TakeIt => "Me la quedo", "Take it";
    Nobody => "Nadie", "Nobody";
    AssignmentChanged => "Asignación cambiada.", "Assignment changed.";
    ChangePriority => "Cambiar la prioridad", "Change the priority";
    PriorityChanged => "Prioridad cambiada.", "Priority changed.";
    Save => "Guardar", "Save";
    ClosedRequestNote => "Esta solicitud está cerrada. Si el problema vuelve, abre una nueva.",
        "This request is closed. If the problem comes back, open a new one.";
    BackToRequests => "← Solicitudes", "← Requests";
    TelescopeHistoryTitle => "Historial de {name}", "History of {name}";
    NoRequestsForTelescope => "Todavía no hay solicitudes sobre este telescopio.", "There are no requests about this telescope yet.";
    SeeHistory => "Ver el historial del telescopio", "See the telescope's history";
    RequestsCount => "{count} solicitudes", "{count} requests";
    ApiTokens => "Claves para programas (API)", "Keys for programs (API)";
    ApiTokensIntro => "Una clave permite a un programa, como el software de monitorización, abrir y consultar solicitudes en tu nombre. Guárdala como una contraseña.",
        "A key lets a program, such as monitoring software, open and read requests on your behalf. Keep it like a password.";
    TokenName => "Nombre de la clave", "Key name";
    CreateToken => "Crear una clave", "Create a key";
    TokenCreated => "Copia la clave ahora: no se volverá a mostrar.", "Copy the key now: it will not be shown again.";
    RevokeToken => "Revocar", "Revoke";
    TokenRevoked => "Clave revocada: deja de funcionar en este momento.", "Key revoked: it stops working at once.";
    NoTokens => "No tienes claves.", "You have no keys.";
    Created => "Creada", "Created";
    LastUsed => "Último uso", "Last used";
    KeyValidity => "Validez", "Valid for";
    KeyValidity30Days => "30 días", "30 days";
    KeyValidity90Days => "90 días", "90 days";
    KeyValidity365Days => "Un año", "One year";
    KeyValidityNever => "Sin caducidad", "No expiry";
    KeyExpires => "Caduca", "Expires";
    KeyExpired => "Caducada", "Expired";
    Never => "Nunca", "Never";
    RecorderRecord => "Grabar un audio", "Record audio";
    RecorderNeedsScript => "La grabación se activa cuando la página termina de cargar.",
        "Recording turns on once the page has finished loading.";
    RecorderLanguage => "Idioma del audio", "Language of the audio";
    RecorderPause => "Pausa", "Pause";
    RecorderResume => "Continuar", "Resume";
    RecorderStop => "Detener", "Stop";
    RecorderDiscard => "Descartar", "Discard";
    RecorderDiscardConfirm => "¿Descartar la grabación? No se podrá recuperar.",
        "Discard the recording? It cannot be recovered.";
    RecorderDiscardYes => "Sí, descartar", "Yes, discard";
    RecorderDiscardNo => "No, conservarla", "No, keep it";
    RecorderDiscarded => "Grabación descartada.", "Recording discarded.";
    RecorderLevel => "Nivel del micrófono", "Microphone level";
    RecorderElapsed => "Tiempo grabado", "Time recorded";
    RecorderAskingMic => "Pidiendo permiso para usar el micrófono…", "Asking for permission to use the microphone…";
    RecorderMicDenied => "El navegador no deja usar el micrófono. Pulsa el candado (o el icono de ajustes) junto a la dirección de la página, permite el micrófono para este sitio y vuelve a pulsar «Grabar un audio».",
        "The browser does not allow the microphone. Press the padlock (or the settings icon) next to the page's address, allow the microphone for this site and press “Record audio” again.";
    RecorderMicMissing => "No se encuentra ningún micrófono. Conecta uno (o comprueba que el dispositivo lo tiene activado) y vuelve a intentarlo.",
        "No microphone was found. Connect one (or check that the device has it turned on) and try again.";
    RecorderMicBusy => "El micrófono está ocupado por otra aplicación o pestaña. Ciérrala y vuelve a intentarlo.",
        "The microphone is in use by another app or tab. Close it and try again.";
    RecorderMicUnsupported => "Este navegador no puede grabar aquí: hace falta una conexión segura (https) o un navegador más reciente.",
        "This browser cannot record here: it needs a secure connection (https) or a newer browser.";
    RecorderMicFailed => "No se pudo empezar a grabar. Vuelve a intentarlo.", "Recording could not start. Try again.";
    RecorderConnecting => "Conectando…", "Connecting…";
    RecorderRecording => "Grabando", "Recording";
    RecorderPaused => "En pausa", "Paused";
    RecorderSendingRest => "Enviando la grabación… {seconds} s pendientes", "Sending the recording… {seconds} s to go";
    RecorderTranscribing => "Transcribiendo…", "Transcribing…";
    RecorderReady => "Grabación lista para enviar.", "Recording ready to send.";
    RecorderOffline => "Sin conexión: la grabación se guarda en este dispositivo y se enviará al volver.",
        "No connection: the recording is kept on this device and will be sent when the connection is back.";
    RecorderReconnecting => "Conexión perdida. Reintentando en {seconds} s; la grabación se guarda en este dispositivo.",
        "Connection lost. Retrying in {seconds} s; the recording is kept on this device.";
    RecorderSecondsLeft => "Quedan {seconds} segundos", "{seconds} seconds left";
    RecorderMaxReached => "Se ha alcanzado la duración máxima: la grabación se ha detenido.",
        "The maximum length was reached: recording stopped.";
    RecorderPartialLabel => "Lo que se entiende hasta ahora", "What has been made out so far";
    RecorderTranscript => "Transcripción (puedes corregirla)", "Transcript (you can correct it)";
    RecorderTranscriptUnavailable => "No hay transcripción automática en este portal: el audio se envía igualmente.",
        "There is no automatic transcript on this portal: the audio is sent anyway.";
    RecorderTranscriptLater => "La transcripción se hará después de enviar.", "The transcript will be made after sending.";
    RecorderYourRecording => "Tu grabación", "Your recording";
    RecorderDownload => "Descargar la grabación", "Download the recording";
    RecorderUnsent => "Tienes una grabación sin enviar ({when}, {duration})", "You have an unsent recording ({when}, {duration})";
    RecorderLost => "Parte de la grabación ya no está ni en el portal ni en este dispositivo. Descárgala o graba de nuevo.",
        "Part of the recording is no longer on the portal or on this device. Download it or record again.";
    RecorderSendWaits => "Se enviará cuando llegue la grabación…", "Sending once the recording has arrived…";
    Outbox => "Correo saliente", "Outgoing e-mail";
    OutboxIntro => "Los correos que envía el portal: invitaciones, enlaces de contraseña y avisos. Los enlaces no se muestran.",
        "The e-mails the portal sends: invitations, password links and notices. Links are not shown.";
    MailWaiting => "En espera", "Waiting";
    MailSent => "Enviado", "Sent";
    MailFailed => "Fallido", "Failed";
    MailCancelled => "Cancelado", "Cancelled";
    MailKindInvitation => "Invitación", "Invitation";
    MailKindPasswordReset => "Cambio de contraseña", "Password reset";
    MailKindEmailVerification => "Confirmación de dirección", "Address confirmation";
    MailKindTicketOpened => "Solicitud abierta", "Request opened";
    MailKindTicketStatus => "Cambio de estado", "Status change";
    MailKindTicketMessage => "Mensaje de una solicitud", "Request message";
    MailKindTicketAssigned => "Asignación", "Assignment";
    MailKindTicketLifecycle => "Recordatorio o cierre", "Reminder or closure";
    MailGreeting => "Hola, {name}:", "Hello {name},";
    MailGreetingNoName => "Hola:", "Hello,";
    MailSomeone => "Alguien", "Someone";
    MailOpenedReporter => "Hemos recibido tu solicitud {number}. Te escribiremos cada vez que cambie su estado.",
        "We have received your request {number}. We will write to you each time its status changes.";
    MailOpenedContacts => "{actor} ha abierto la solicitud {number} para {organization}.",
        "{actor} opened request {number} for {organization}.";
    MailOpenedStaff => "Nueva solicitud {number} de {organization}, abierta por {actor}.",
        "New request {number} from {organization}, opened by {actor}.";
    MailStatusChanged => "La solicitud {number} ha pasado de «{from}» a «{to}».",
        "Request {number} went from “{from}” to “{to}”.";
    MailReason => "Motivo:", "Reason:";
    MailStaffReplied => "{actor} ha respondido en la solicitud {number}:", "{actor} replied on request {number}:";
    MailClientWrote => "{actor} ha escrito en la solicitud {number}:", "{actor} wrote on request {number}:";
    MailAssigned => "{actor} te ha asignado la solicitud {number}.", "{actor} assigned request {number} to you.";
    MailVoiceComment => "(Comentario de voz: puedes escucharlo en el portal.)", "(Voice comment: you can listen to it in the portal.)";
    MailSubjectLine => "Asunto: {subject}", "Subject: {subject}";
    MailViewRequest => "Ver la solicitud", "View the request";
    MailWhyReporter => "Recibes este correo porque abriste esta solicitud en el portal de soporte de {observatory}.",
        "You receive this e-mail because you opened this request on the {observatory} support portal.";
    MailWhyContact => "Recibes este correo porque eres contacto de soporte de {organization} en {observatory}.",
        "You receive this e-mail because you are a support contact of {organization} at {observatory}.";
    MailWhyAssignee => "Recibes este correo porque tienes asignada esta solicitud.",
        "You receive this e-mail because this request is assigned to you.";
    MailWhyStaff => "Recibes este correo porque atiendes las solicitudes de {observatory}.",
        "You receive this e-mail because you handle the requests of {observatory}.";
    MailManage => "Elegir qué correos recibo", "Choose which e-mails I receive";
    ErrorHeldMailGone => "Ese correo ya no está retenido: alguien lo ha publicado o descartado.",
        "That e-mail is no longer held: someone published or discarded it.";
    HeldMailTitle => "Correo retenido", "Held e-mail";
    HeldMailIntro => "Estos correos llegaron a la dirección de respuesta de la solicitud, pero no se han publicado. Nadie más que el equipo los ve.",
        "These e-mails reached the request's reply address but were not posted. Only staff see them.";
    HeldMailUnknownSender => "El remitente no es nadie que pueda escribir en esta solicitud.",
        "The sender is nobody who may write on this request.";
    HeldMailClosed => "Llegó cuando la solicitud estaba cerrada.", "It arrived when the request was closed.";
    HeldMailDecided => "Correo retenido resuelto.", "Held e-mail dealt with.";
    HeldMailRelease => "Publicar como nota interna", "Publish as an internal note";
    HeldMailDiscard => "Descartar", "Discard";
    MailReplyAbove => "## Responde encima de esta línea para añadir un mensaje a la solicitud ##",
        "## Reply above this line to add a message to the request ##";
    MailFilesNotKept => "(Adjuntos del correo que no se han podido guardar: {names})",
        "(Attachments of the e-mail that could not be kept: {names})";
    MailHeldReleased => "Correo de {from} retenido y publicado como nota interna por {actor}. Asunto: {subject}",
        "E-mail from {from}, held and published as an internal note by {actor}. Subject: {subject}";
    RuleOpenedToReporter => "Acuse de recibo a quien abre la solicitud", "Acknowledgement to whoever opens the request";
    RuleOpenedToContacts => "Solicitud nueva: copia a los contactos de soporte", "New request: a copy to the support contacts";
    RuleOpenedToStaff => "Solicitud nueva: aviso al equipo", "New request: a notice to staff";
    RuleStatusToReporter => "Cambio de estado: a quien abrió la solicitud", "Status change: to whoever opened the request";
    RuleStatusToContacts => "Cambio de estado: a los contactos de soporte", "Status change: to the support contacts";
    RuleStatusToAssignee => "Cambio de estado: a la persona asignada", "Status change: to the assignee";
    RuleReplyToReporter => "Respuesta del observatorio: a quien abrió la solicitud", "Reply from the observatory: to whoever opened the request";
    RuleReplyToContacts => "Respuesta del observatorio: a los contactos de soporte", "Reply from the observatory: to the support contacts";
    RuleClientMessageToStaff => "Mensaje de un cliente: a la persona asignada (o al equipo)", "Message from a client: to the assignee (or staff)";
    RuleAssigned => "Asignación: a la persona asignada", "Assignment: to the new assignee";
    EmailNotifications => "Avisos por correo", "E-mail notifications";
    NotificationsIntro => "Qué correos envía el portal cuando cambia una solicitud. Cada persona puede dejar de recibir los que no son sobre sus propias solicitudes.",
        "Which e-mails the portal sends when a request changes. Each person can stop the ones that are not about their own requests.";
    NotificationRules => "Correos que envía el portal", "E-mails the portal sends";
    QueueEmail => "Dirección del equipo", "Staff address";
    QueueEmailHint => "Recibe los avisos de solicitudes sin asignar. Si la dejas vacía, los reciben todos los agentes.",
        "Receives the notices of unassigned requests. Left empty, every agent receives them.";
    SaveNotifications => "Guardar los avisos", "Save the notifications";
    NotificationsSaved => "Avisos guardados.", "Notifications saved.";
    ErrorCadenceOutOfRange => "Las horas van de 1 a 720 y los recordatorios de 0 a 10.", "Hours go from 1 to 720 and reminders from 0 to 10.";
    ErrorNotAwaitingConfirmation => "Esta solicitud no está pendiente de confirmar.", "This request is not awaiting confirmation.";
    ResolutionAccepted => "Cerrada: solución aceptada", "Closed: resolution accepted";
    ResolutionAutoClosed => "Cerrada automáticamente", "Closed automatically";
    ResolutionNoReply => "Cerrada sin respuesta del cliente", "Closed without the client's answer";
    ResolutionPending => "Pendiente de confirmar", "Awaiting confirmation";
    ResolutionLabel => "Cierre", "Closure";
    WaitingForClient => "Esperando al cliente: recordárselo y cerrarla si no responde", "Waiting for the client: remind them, and close it if they do not answer";
    WaitingForClientBadge => "Esperando al cliente", "Waiting for the client";
    EntryWaitingReminder => "Se recordó al cliente que esperamos su respuesta ({n} de {of})", "The client was reminded that we await their answer ({n} of {of})";
    EntryWaitingClosureNotice => "Se avisó al cliente de que se cerrará en {hours} h si no responde", "The client was told it closes in {hours} h without an answer";
    EntryClosedNoReply => "Cerrada automáticamente: el cliente no respondió", "Closed automatically: the client did not answer";
    EntryConfirmationReminder => "Se recordó al cliente que confirme la solución", "The client was reminded to confirm the resolution";
    EntryConfirmationClosureNotice => "Se avisó al cliente de que se cerrará en {hours} h", "The client was told it closes in {hours} h";
    EntryClosedAutomatically => "Cerrada automáticamente: nadie la reabrió", "Closed automatically: nobody reopened it";
    EntryAccepted => "{name} aceptó la solución", "{name} accepted the resolution";
    AcceptTitle => "¿Está resuelto?", "Is it solved?";
    AcceptIntro => "Si la solución te sirve, acéptala y la solicitud quedará cerrada. Si no, reábrela y cuéntanos qué falta.",
        "If the resolution works for you, accept it and the request is closed. If not, reopen it and tell us what is missing.";
    AcceptResolution => "Aceptar la solución", "Accept the resolution";
    ResolutionAcceptedToast => "Gracias: la solicitud queda cerrada.", "Thank you: the request is closed.";
    MailWaitingReminder => "Seguimos esperando tu respuesta en la solicitud {number} (recordatorio {n} de {of}). Contesta desde el portal para que podamos continuar.",
        "We are still waiting for your answer on request {number} (reminder {n} of {of}). Answer in the portal so that we can go on.";
    MailWaitingClosureNotice => "Si no recibimos tu respuesta, la solicitud {number} se cerrará automáticamente dentro de {hours} horas.",
        "Without your answer, request {number} will close automatically in {hours} hours.";
    MailClosedNoReply => "La solicitud {number} se ha cerrado porque no hemos recibido respuesta. Si aún lo necesitas, abre una nueva.",
        "Request {number} has been closed because no answer came. If you still need it, open a new one.";
    MailConfirmationAsk => "Si está resuelta, acepta la solución desde el portal; si no, reábrela con un comentario.",
        "If it is solved, accept the resolution in the portal; if not, reopen it with a comment.";
    MailConfirmationReminder => "¿Está resuelta la solicitud {number}? Acepta la solución o reábrela con un comentario desde el portal.",
        "Is request {number} solved? Accept the resolution or reopen it with a comment in the portal.";
    MailConfirmationClosureNotice => "La solicitud {number} se cerrará automáticamente dentro de {hours} horas si no la reabres.",
        "Request {number} will close automatically in {hours} hours unless you reopen it.";
    MailClosedAutomatically => "La solicitud {number} se ha cerrado automáticamente.", "Request {number} has been closed automatically.";
    MailAccepted => "{actor} ha aceptado la solución de la solicitud {number}.", "{actor} accepted the resolution of request {number}.";
    CadenceTitle => "Recordatorios y cierre automático", "Reminders and automatic closure";
    CadenceIntro => "Para las solicitudes bloqueadas esperando al cliente y las hechas pendientes de confirmar: cada cuánto se recuerda, cuántas veces y cuánto después del aviso se cierran.",
        "For requests blocked waiting for the client and done ones awaiting confirmation: how often the client is reminded, how many times, and how long after the notice they close.";
    ReminderHours => "Horas entre recordatorios", "Hours between reminders";
    ReminderCount => "Recordatorios antes del aviso de cierre", "Reminders before the closure notice";
    ClosureHours => "Horas entre el aviso y el cierre", "Hours between the notice and the closure";
    MyEmailChoices => "Qué correos recibo", "Which e-mails I receive";
    MyNotificationsIntro => "Los correos sobre las solicitudes que abres te llegan siempre. Elige qué más quieres recibir.",
        "E-mails about the requests you open always reach you. Choose what else you want to receive.";
    MyNotificationsStaffIntro => "Elige qué avisos del trabajo del observatorio quieres recibir por correo.",
        "Choose which notices of the observatory's work you want by e-mail.";
    MyNotificationsNone => "No hay avisos opcionales para ti: te llegan los correos sobre tus propias solicitudes.",
        "There are no optional notifications for you: you receive the e-mails about your own requests.";
    MailFilterAll => "Todos", "All";
    MailRecipient => "Para", "To";
    MailKind => "Tipo", "Kind";
    MailAttempts => "Intentos: {count}", "Attempts: {count}";
    MailQueuedAt => "En cola desde", "Queued";
    MailSentAt => "Enviado el {when}", "Sent on {when}";
    MailNextAttempt => "Nuevo intento: {when}", "Next try: {when}";
    MailServerAnswer => "Respuesta del servidor de correo: {answer}", "The mail server answered: {answer}";
    RetryMail => "Reintentar", "Retry";
    CancelMail => "Cancelar el envío", "Cancel sending";
    MailRetried => "El correo se enviará de nuevo.", "The e-mail will be sent again.";
    MailSendingCancelled => "El correo no se enviará.", "The e-mail will not be sent.";
    NoMails => "No hay correos aquí", "No e-mails here";
    NoMailsBody => "Aquí aparecen los correos del portal en cuanto envía alguno.", "The portal's e-mails show here as soon as it sends one.";
    OlderMails => "Más antiguos →", "Older →";
    ErrorMailNotRetryable => "Ese correo ya no está fallido: no hay nada que reintentar.", "That e-mail is no longer failed: there is nothing to retry.";
    ErrorMailNotCancellable => "Ese correo ya se envió o se canceló.", "That e-mail was already sent or cancelled.";
}

impl Msg {
    /// The message's stable name (its identifier), used to carry it in a URL.
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    pub fn from_name(name: &str) -> Option<Msg> {
        Msg::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// The text with `{name}`-style placeholders filled in, in one pass over the catalogue
    /// text: a substituted value is never scanned again, so a person named `{link}` stays
    /// `{link}`. Unknown placeholders are kept as written.
    pub fn fill(self, lang: Lang, args: &[(&str, &str)]) -> String {
        let template = self.text(lang);
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let value = after.find('}').and_then(|close| {
                let name = &after[..close];
                args.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value, close))
            });
            match value {
                Some((value, close)) => {
                    out.push_str(value);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_never_expands_placeholders_inside_values() {
        let filled = Msg::MailInvitationBody.fill(
            Lang::En,
            &[("name", "{link}"), ("link", "https://portal.example/x")],
        );
        assert!(filled.contains("{link}"), "{filled}");
        assert_eq!(
            filled.matches("https://portal.example/x").count(),
            1,
            "{filled}"
        );
    }

    #[test]
    fn accept_language_prefers_highest_quality_supported_language() {
        assert_eq!(Lang::negotiate("fr-FR, en;q=0.8, es;q=0.9"), Some(Lang::Es));
        assert_eq!(Lang::negotiate("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::negotiate("de, fr;q=0.5"), None);
        assert_eq!(Lang::negotiate("es;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(Lang::negotiate(""), None);
    }

    #[test]
    fn codes_round_trip() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code("EN-us"), Some(Lang::En));
        assert_eq!(Lang::from_code("xx"), None);
    }

    #[test]
    fn every_message_is_translated_and_differs_where_it_should() {
        for msg in Msg::ALL {
            for lang in Lang::ALL {
                assert!(
                    !msg.text(lang).trim().is_empty(),
                    "{msg:?} is empty in {lang:?}"
                );
            }
        }
        // A message whose two texts are equal was probably never translated.
        let same: Vec<_> = Msg::ALL
            .iter()
            .filter(|m| m.text(Lang::Es) == m.text(Lang::En))
            // The same in both: the name, and speeds without a decimal separator.
            .filter(|m| !matches!(m, Msg::AppName | Msg::VoiceSpeed1 | Msg::VoiceSpeed2))
            .collect();
        assert!(same.is_empty(), "untranslated messages: {same:?}");
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            Msg::RequestReceived.fill(Lang::En, &[("number", "OBS-2026-00042")]),
            "Your request OBS-2026-00042 has been received."
        );
        assert_eq!(
            Msg::RequestReceived.fill(Lang::Es, &[("number", "OBS-2026-00042")]),
            "Hemos recibido tu solicitud OBS-2026-00042."
        );
    }
}
