// The web app's own words, in English, Spanish and Urdu, and the language they are shown in: the one picked in
// the language menu (kept in localStorage), else the browser's first that we have, else English. Urdu turns
// the page right-to-left. Pages carry their English text in the HTML (so they read before any script runs)
// and name its key in data-i18n (the text) or data-i18n-attr ("aria-label:key;title:key2").
//
// What people write (titles, labels, messages) is never translated: shown elements get dir="auto", and where
// it sits inside a sentence of ours it is wrapped in <bdi> (tn) so its direction cannot scramble ours.

/** @typedef {string | { one?: string, few?: string, many?: string, two?: string, zero?: string, other: string }} Entry */
/** @typedef {Record<string, Entry>} Catalog */
/** @typedef {Record<string, string | number>} Params */

/** @type {Catalog} */
const en = {
  "app.name": "taskchat",
  "lang.label": "Language",

  // sign-in and sign-up pages
  "login.pageTitle": "Sign in · taskchat",
  "login.heading": "Welcome back",
  "login.lead": "Sign in to pick up your tasks and conversations.",
  "login.remember": "Keep me signed in",
  "login.submit": "Sign in",
  "login.busy": "Signing in…",
  "login.switch": "New to taskchat?",
  "login.switchLink": "Create an account",
  "signup.pageTitle": "Create an account · taskchat",
  "signup.heading": "Create your account",
  "signup.lead": "Then just say what needs doing — taskchat keeps the list.",
  "signup.submit": "Create account",
  "signup.busy": "Creating your account…",
  "signup.switch": "Already have an account?",
  "signup.switchLink": "Sign in",
  "field.name": "Name",
  "field.email": "Email",
  "field.password": "Password",
  "field.passwordHint": "8 to 128 characters.",
  "check.nameMissing": "Please tell us your name.",
  "check.nameLong": "Please use at most 100 characters.",
  "check.emailMissing": "Please enter your email.",
  "check.emailShape": "That doesn't look like an email address.",
  "check.passwordMissing": "Please enter your password.",
  "check.passwordShort": "Passwords have at least 8 characters.",
  "check.passwordLong": "Passwords have at most 128 characters.",
  "auth.expired": "Your session has ended. Sign in again to continue — your message is kept.",
  "auth.unexpected": "Something unexpected happened. Please try again.",
  "auth.mismatch": "That email and password don't match an account. Check both and try again.",
  "auth.exists": "There's already an account with this email.",
  "auth.existsHint": "Is it yours? You can sign in instead.",
  "auth.tooMany": "Too many attempts in a row. Please wait {wait} and try again.",
  "wait.few": "a few seconds",
  "wait.seconds": { one: "{count} second", other: "{count} seconds" },
  "wait.minutes": { one: "{count} minute", other: "{count} minutes" },

  // errors from talking to the server
  "net.offline": "Couldn't reach taskchat. Check your connection and try again.",
  "net.server": "Something went wrong on our side. Please try again in a moment.",
  "net.failed": "The request failed ({status}).",
  "net.dropped": "The connection dropped before the answer was complete.",
  "error.generic": "Something went wrong. Please try again.",

  // the chat page
  "chat.skip": "Skip to the message box",
  "chat.newChat": "New chat",
  "chat.conversations": "Conversations",
  "chat.closeConversations": "Close conversations",
  "chat.threadsEmpty": "Your conversations will show up here.",
  "chat.signOut": "Sign out",
  "chat.tasks": "Tasks",
  "chat.welcomeTitle": "What needs doing?",
  "chat.welcomeLead": "Tell taskchat in your own words. It keeps your list and tells you what it did.",
  "chat.examples": "Try one of these",
  "chat.example1": "Add a task to buy milk",
  "chat.example2": "Remind me to call the dentist",
  "chat.example3": "What's still pending?",
  "chat.example4": "Mark 1 done",
  "chat.messages": "Messages",
  "chat.message": "Message",
  "chat.placeholder": "Message taskchat…",
  "chat.send": "Send",
  "chat.stop": "Stop the answer",
  "chat.hint": "Enter to send · Shift+Enter for a new line",
  "chat.retry": "Retry",
  "chat.signIn": "Sign in",
  "chat.untitled": "New conversation",
  "chat.rename": "Rename",
  "chat.renameThread": "Rename “{title}”",
  "chat.delete": "Delete",
  "chat.deleteThread": "Delete “{title}”",
  "chat.loading": "Loading…",
  "chat.notFound": "Conversation not found",
  "chat.notFoundText": "This conversation doesn't exist, or it was deleted.",
  "chat.startNew": "Start a new chat",
  "chat.renameTitle": "Rename conversation",
  "chat.titleField": "Title",
  "chat.renamed": "Conversation renamed.",
  "chat.deleteTitle": "Delete this conversation?",
  "chat.deleteText": "“{title}” and its messages will be gone for good. Your tasks stay as they are.",
  "chat.deleted": "Conversation deleted.",
  "chat.deletedElsewhere": "This conversation was deleted in another window.",
  "chat.youSaid": "You said",
  "chat.assistantSaid": "taskchat said",
  "chat.activity": "What taskchat did",
  "chat.answerFailed": "Something went wrong while answering.",
  "chat.stopped": "Stopped.",
  "chat.reload": "Reload the conversation",
  "chat.tryAgain": "Try again",
  "dialog.cancel": "Cancel",
  "dialog.ok": "OK",

  // the task panel
  "tasks.title": "Your tasks",
  "tasks.undo": "Undo",
  "tasks.undoTitle": "Undo the last change to your tasks",
  "tasks.close": "Close tasks",
  "tasks.new": "New task",
  "tasks.newPlaceholder": "Add a task…",
  "tasks.add": "Add task",
  "tasks.filter": "Filter tasks",
  "tasks.search": "Search tasks",
  "tasks.searchPlaceholder": "Search tasks…",
  "tasks.show": "Show",
  "view.all": "All",
  "view.today": "Today",
  "view.upcoming": "Upcoming",
  "view.overdue": "Overdue",
  "view.done": "Done",
  "tasks.label": "Label",
  "tasks.allLabels": "All labels",
  "tasks.labelOption": "{label} ({count})",
  "tasks.dueOn": "Due on",
  "tasks.dueOnTitle": "Due on this day",
  "tasks.sort": "Sort by",
  "sort.number": "By number",
  "sort.due": "By due date",
  "sort.priority": "By priority",
  "sort.created": "Newest first",
  "sort.updated": "Recently changed",
  "tasks.pending": "Pending",
  "tasks.done": "Done",
  "tasks.more": "Loading more…",
  "tasks.pendingEmpty": "Nothing pending. Ask for something, or add it above.",
  "tasks.noMatch": "No pending tasks match.",
  "tasks.doneEmpty": "Finished tasks land here.",
  "tasks.countMore": "{count}+",
  "tasks.undoneOne": "Undone: task {number}, “{title}”, is as it was.",
  "tasks.undoneMany": { one: "Undone: {count} task is as it was.", other: "Undone: {count} tasks are as they were." },
  "tasks.added": "Added “{title}”.",

  // a task row and its details
  "row.detailsTitle": "Due, priority, labels",
  "row.edit": "Edit",
  "row.delete": "Delete",
  "row.editTask": "Edit task {number}: {title}",
  "row.detailsOf": "Due, priority and labels of task {number}: {title}",
  "row.deleteTask": "Delete task {number}: {title}",
  "row.due": "Due {when}",
  "row.dueSr": "Due:",
  "row.prioritySr": " priority",
  "row.priorityTitle": "{priority} priority",
  "row.details": "Details of task {number}",
  "row.dueField": "Due",
  "row.duePlaceholder": "tomorrow 5pm, 2026-12-24 17:00…",
  "row.dueHint": "Enter saves; an empty field clears the due date.",
  "row.priority": "Priority",
  "row.labels": "Labels",
  "row.labelPlaceholder": "Add a label…",
  "row.addLabel": "Add a label to task {number}",
  "row.removeLabel": "Remove label {label} from task {number}",
  "row.newTitle": "New title for task {number}",
  "priority.none": "No priority",
  "priority.low": "low",
  "priority.medium": "medium",
  "priority.high": "high",
  "priority.urgent": "urgent",
  "priorityOption.low": "Low",
  "priorityOption.medium": "Medium",
  "priorityOption.high": "High",
  "priorityOption.urgent": "Urgent",
  "said.renamed": "Renamed task {number}.",
  "said.deleted": "Deleted task {number}.",
  "said.unlabelled": "Removed the label {label} from task {number}.",
  "said.done": "Marked task {number} done.",
  "said.reopened": "Task {number} is pending again.",
  "said.priority": "Task {number} is now {priority} priority.",
  "said.noPriority": "Task {number} is now without priority.",
  "said.due": "Task {number} is due {due}.",
  "said.noDue": "Task {number} has no due date now.",
  "said.labelled": "Labelled task {number} {label}.",

  // due dates
  "due.today": "today",
  "due.tomorrow": "tomorrow",
  "due.yesterday": "yesterday",
  "due.overdue": "overdue",
  "due.overdueBy": { one: "overdue by {count} day", other: "overdue by {count} days" },
  "due.withTime": "{day} {time}",
};

/** @type {Catalog} */
const es = {
  "lang.label": "Idioma",
  "login.pageTitle": "Iniciar sesión · taskchat",
  "login.heading": "Hola de nuevo",
  "login.lead": "Inicia sesión para retomar tus tareas y conversaciones.",
  "login.remember": "Mantener la sesión iniciada",
  "login.submit": "Iniciar sesión",
  "login.busy": "Iniciando sesión…",
  "login.switch": "¿Nuevo en taskchat?",
  "login.switchLink": "Crear una cuenta",
  "signup.pageTitle": "Crear una cuenta · taskchat",
  "signup.heading": "Crea tu cuenta",
  "signup.lead": "Luego solo di qué hay que hacer: taskchat lleva la lista.",
  "signup.submit": "Crear cuenta",
  "signup.busy": "Creando tu cuenta…",
  "signup.switch": "¿Ya tienes una cuenta?",
  "signup.switchLink": "Iniciar sesión",
  "field.name": "Nombre",
  "field.email": "Correo electrónico",
  "field.password": "Contraseña",
  "field.passwordHint": "De 8 a 128 caracteres.",
  "check.nameMissing": "Dinos tu nombre, por favor.",
  "check.nameLong": "Usa como máximo 100 caracteres.",
  "check.emailMissing": "Escribe tu correo electrónico.",
  "check.emailShape": "Eso no parece una dirección de correo.",
  "check.passwordMissing": "Escribe tu contraseña.",
  "check.passwordShort": "Las contraseñas tienen al menos 8 caracteres.",
  "check.passwordLong": "Las contraseñas tienen como máximo 128 caracteres.",
  "auth.expired": "Tu sesión ha terminado. Vuelve a iniciar sesión para seguir: tu mensaje se conserva.",
  "auth.unexpected": "Ocurrió algo inesperado. Inténtalo de nuevo.",
  "auth.mismatch": "Ese correo y esa contraseña no corresponden a ninguna cuenta. Revisa ambos e inténtalo de nuevo.",
  "auth.exists": "Ya hay una cuenta con este correo.",
  "auth.existsHint": "¿Es tuya? Puedes iniciar sesión.",
  "auth.tooMany": "Demasiados intentos seguidos. Espera {wait} y vuelve a intentarlo.",
  "wait.few": "unos segundos",
  "wait.seconds": { one: "{count} segundo", other: "{count} segundos" },
  "wait.minutes": { one: "{count} minuto", other: "{count} minutos" },
  "net.offline": "No se pudo conectar con taskchat. Revisa tu conexión e inténtalo de nuevo.",
  "net.server": "Algo falló por nuestra parte. Inténtalo de nuevo en un momento.",
  "net.failed": "La solicitud falló ({status}).",
  "net.dropped": "La conexión se cortó antes de terminar la respuesta.",
  "error.generic": "Algo salió mal. Inténtalo de nuevo.",
  "chat.skip": "Ir al cuadro de mensaje",
  "chat.newChat": "Nuevo chat",
  "chat.conversations": "Conversaciones",
  "chat.closeConversations": "Cerrar conversaciones",
  "chat.threadsEmpty": "Tus conversaciones aparecerán aquí.",
  "chat.signOut": "Cerrar sesión",
  "chat.tasks": "Tareas",
  "chat.welcomeTitle": "¿Qué hay que hacer?",
  "chat.welcomeLead": "Díselo a taskchat con tus palabras. Lleva tu lista y te cuenta lo que hizo.",
  "chat.examples": "Prueba una de estas",
  "chat.example1": "Añade una tarea para comprar leche",
  "chat.example2": "Recuérdame llamar al dentista",
  "chat.example3": "¿Qué queda pendiente?",
  "chat.example4": "Marca la 1 como hecha",
  "chat.messages": "Mensajes",
  "chat.message": "Mensaje",
  "chat.placeholder": "Escribe a taskchat…",
  "chat.send": "Enviar",
  "chat.stop": "Detener la respuesta",
  "chat.hint": "Intro para enviar · Mayús+Intro para una línea nueva",
  "chat.retry": "Reintentar",
  "chat.signIn": "Iniciar sesión",
  "chat.untitled": "Conversación nueva",
  "chat.rename": "Renombrar",
  "chat.renameThread": "Renombrar «{title}»",
  "chat.delete": "Eliminar",
  "chat.deleteThread": "Eliminar «{title}»",
  "chat.loading": "Cargando…",
  "chat.notFound": "Conversación no encontrada",
  "chat.notFoundText": "Esta conversación no existe o se eliminó.",
  "chat.startNew": "Empezar un chat nuevo",
  "chat.renameTitle": "Renombrar la conversación",
  "chat.titleField": "Título",
  "chat.renamed": "Conversación renombrada.",
  "chat.deleteTitle": "¿Eliminar esta conversación?",
  "chat.deleteText": "«{title}» y sus mensajes desaparecerán para siempre. Tus tareas se quedan como están.",
  "chat.deleted": "Conversación eliminada.",
  "chat.deletedElsewhere": "Esta conversación se eliminó en otra ventana.",
  "chat.youSaid": "Dijiste",
  "chat.assistantSaid": "taskchat dijo",
  "chat.activity": "Lo que hizo taskchat",
  "chat.answerFailed": "Algo salió mal al responder.",
  "chat.stopped": "Detenido.",
  "chat.reload": "Recargar la conversación",
  "chat.tryAgain": "Intentar de nuevo",
  "dialog.cancel": "Cancelar",
  "dialog.ok": "Aceptar",
  "tasks.title": "Tus tareas",
  "tasks.undo": "Deshacer",
  "tasks.undoTitle": "Deshacer el último cambio en tus tareas",
  "tasks.close": "Cerrar tareas",
  "tasks.new": "Tarea nueva",
  "tasks.newPlaceholder": "Añade una tarea…",
  "tasks.add": "Añadir tarea",
  "tasks.filter": "Filtrar tareas",
  "tasks.search": "Buscar tareas",
  "tasks.searchPlaceholder": "Buscar tareas…",
  "tasks.show": "Mostrar",
  "view.all": "Todas",
  "view.today": "Hoy",
  "view.upcoming": "Próximas",
  "view.overdue": "Vencidas",
  "view.done": "Hechas",
  "tasks.label": "Etiqueta",
  "tasks.allLabels": "Todas las etiquetas",
  "tasks.dueOn": "Vence el",
  "tasks.dueOnTitle": "Vencen este día",
  "tasks.sort": "Ordenar por",
  "sort.number": "Por número",
  "sort.due": "Por vencimiento",
  "sort.priority": "Por prioridad",
  "sort.created": "Más nuevas primero",
  "sort.updated": "Cambiadas hace poco",
  "tasks.pending": "Pendientes",
  "tasks.done": "Hechas",
  "tasks.more": "Cargando más…",
  "tasks.pendingEmpty": "Nada pendiente. Pide algo o añádelo arriba.",
  "tasks.noMatch": "Ninguna tarea pendiente coincide.",
  "tasks.doneEmpty": "Aquí llegan las tareas terminadas.",
  "tasks.undoneOne": "Deshecho: la tarea {number}, «{title}», está como estaba.",
  "tasks.undoneMany": { one: "Deshecho: {count} tarea está como estaba.", other: "Deshecho: {count} tareas están como estaban." },
  "tasks.added": "Añadida «{title}».",
  "row.detailsTitle": "Vencimiento, prioridad, etiquetas",
  "row.edit": "Editar",
  "row.delete": "Eliminar",
  "row.editTask": "Editar la tarea {number}: {title}",
  "row.detailsOf": "Vencimiento, prioridad y etiquetas de la tarea {number}: {title}",
  "row.deleteTask": "Eliminar la tarea {number}: {title}",
  "row.due": "Vence {when}",
  "row.dueSr": "Vence:",
  "row.prioritySr": " (prioridad)",
  "row.priorityTitle": "Prioridad {priority}",
  "row.details": "Detalles de la tarea {number}",
  "row.dueField": "Vence",
  "row.duePlaceholder": "mañana 17:00, 2026-12-24 17:00…",
  "row.dueHint": "Intro guarda; un campo vacío quita el vencimiento.",
  "row.priority": "Prioridad",
  "row.labels": "Etiquetas",
  "row.labelPlaceholder": "Añade una etiqueta…",
  "row.addLabel": "Añadir una etiqueta a la tarea {number}",
  "row.removeLabel": "Quitar la etiqueta {label} de la tarea {number}",
  "row.newTitle": "Nuevo título de la tarea {number}",
  "priority.none": "Sin prioridad",
  "priority.low": "baja",
  "priority.medium": "media",
  "priority.high": "alta",
  "priority.urgent": "urgente",
  "priorityOption.low": "Baja",
  "priorityOption.medium": "Media",
  "priorityOption.high": "Alta",
  "priorityOption.urgent": "Urgente",
  "said.renamed": "Tarea {number} renombrada.",
  "said.deleted": "Tarea {number} eliminada.",
  "said.unlabelled": "Se quitó la etiqueta {label} de la tarea {number}.",
  "said.done": "Tarea {number} marcada como hecha.",
  "said.reopened": "La tarea {number} vuelve a estar pendiente.",
  "said.priority": "La tarea {number} ahora tiene prioridad {priority}.",
  "said.noPriority": "La tarea {number} ahora no tiene prioridad.",
  "said.due": "La tarea {number} vence {due}.",
  "said.noDue": "La tarea {number} ya no tiene vencimiento.",
  "said.labelled": "Tarea {number} etiquetada {label}.",
  "due.today": "hoy",
  "due.tomorrow": "mañana",
  "due.yesterday": "ayer",
  "due.overdue": "vencida",
  "due.overdueBy": { one: "vencida hace {count} día", other: "vencida hace {count} días" },
};

/** @type {Catalog} */
const ur = {
  "lang.label": "زبان",
  "login.pageTitle": "سائن اِن · taskchat",
  "login.heading": "خوش آمدید",
  "login.lead": "اپنے کاموں اور گفتگو پر واپس آنے کے لیے سائن اِن کریں۔",
  "login.remember": "مجھے سائن اِن رکھیں",
  "login.submit": "سائن اِن",
  "login.busy": "سائن اِن ہو رہا ہے…",
  "login.switch": "taskchat پر نئے ہیں؟",
  "login.switchLink": "اکاؤنٹ بنائیں",
  "signup.pageTitle": "اکاؤنٹ بنائیں · taskchat",
  "signup.heading": "اپنا اکاؤنٹ بنائیں",
  "signup.lead": "پھر بس بتائیں کہ کیا کرنا ہے — فہرست taskchat رکھے گا۔",
  "signup.submit": "اکاؤنٹ بنائیں",
  "signup.busy": "آپ کا اکاؤنٹ بن رہا ہے…",
  "signup.switch": "پہلے سے اکاؤنٹ ہے؟",
  "signup.switchLink": "سائن اِن",
  "field.name": "نام",
  "field.email": "ای میل",
  "field.password": "پاس ورڈ",
  "field.passwordHint": "8 سے 128 حروف۔",
  "check.nameMissing": "براہِ کرم اپنا نام بتائیں۔",
  "check.nameLong": "براہِ کرم زیادہ سے زیادہ 100 حروف استعمال کریں۔",
  "check.emailMissing": "براہِ کرم اپنی ای میل لکھیں۔",
  "check.emailShape": "یہ ای میل کا پتہ نہیں لگتا۔",
  "check.passwordMissing": "براہِ کرم اپنا پاس ورڈ لکھیں۔",
  "check.passwordShort": "پاس ورڈ میں کم از کم 8 حروف ہوتے ہیں۔",
  "check.passwordLong": "پاس ورڈ میں زیادہ سے زیادہ 128 حروف ہوتے ہیں۔",
  "auth.expired": "آپ کا سیشن ختم ہو گیا ہے۔ جاری رکھنے کے لیے دوبارہ سائن اِن کریں — آپ کا پیغام محفوظ ہے۔",
  "auth.unexpected": "کچھ غیر متوقع ہو گیا۔ براہِ کرم دوبارہ کوشش کریں۔",
  "auth.mismatch": "یہ ای میل اور پاس ورڈ کسی اکاؤنٹ سے نہیں ملتے۔ دونوں دیکھ کر دوبارہ کوشش کریں۔",
  "auth.exists": "اس ای میل کا اکاؤنٹ پہلے سے موجود ہے۔",
  "auth.existsHint": "کیا یہ آپ کا ہے؟ آپ سائن اِن کر سکتے ہیں۔",
  "auth.tooMany": "لگاتار بہت زیادہ کوششیں۔ براہِ کرم {wait} انتظار کر کے دوبارہ کوشش کریں۔",
  "wait.few": "چند سیکنڈ",
  "wait.seconds": { one: "{count} سیکنڈ", other: "{count} سیکنڈ" },
  "wait.minutes": { one: "{count} منٹ", other: "{count} منٹ" },
  "net.offline": "taskchat تک رسائی نہیں ہو سکی۔ اپنا کنکشن دیکھ کر دوبارہ کوشش کریں۔",
  "net.server": "ہماری طرف کچھ خرابی ہو گئی۔ براہِ کرم تھوڑی دیر میں دوبارہ کوشش کریں۔",
  "net.failed": "درخواست ناکام ہو گئی ({status})۔",
  "net.dropped": "جواب مکمل ہونے سے پہلے کنکشن ٹوٹ گیا۔",
  "error.generic": "کچھ غلط ہو گیا۔ براہِ کرم دوبارہ کوشش کریں۔",
  "chat.skip": "پیغام کے خانے پر جائیں",
  "chat.newChat": "نئی چیٹ",
  "chat.conversations": "گفتگو",
  "chat.closeConversations": "گفتگو بند کریں",
  "chat.threadsEmpty": "آپ کی گفتگو یہاں نظر آئے گی۔",
  "chat.signOut": "سائن آؤٹ",
  "chat.tasks": "کام",
  "chat.welcomeTitle": "کیا کرنا ہے؟",
  "chat.welcomeLead": "taskchat کو اپنے الفاظ میں بتائیں۔ یہ آپ کی فہرست رکھتا ہے اور بتاتا ہے کہ اس نے کیا کیا۔",
  "chat.examples": "ان میں سے ایک آزمائیں",
  "chat.example1": "دودھ خریدنے کا کام شامل کریں",
  "chat.example2": "مجھے ڈینٹسٹ کو فون کرنا یاد دلائیں",
  "chat.example3": "کیا کیا باقی ہے؟",
  "chat.example4": "1 کو مکمل کر دیں",
  "chat.messages": "پیغامات",
  "chat.message": "پیغام",
  "chat.placeholder": "taskchat کو پیغام لکھیں…",
  "chat.send": "بھیجیں",
  "chat.stop": "جواب روکیں",
  "chat.hint": "بھیجنے کے لیے Enter · نئی سطر کے لیے Shift+Enter",
  "chat.retry": "دوبارہ کوشش",
  "chat.signIn": "سائن اِن",
  "chat.untitled": "نئی گفتگو",
  "chat.rename": "نام بدلیں",
  "chat.renameThread": "“{title}” کا نام بدلیں",
  "chat.delete": "حذف کریں",
  "chat.deleteThread": "“{title}” حذف کریں",
  "chat.loading": "لوڈ ہو رہا ہے…",
  "chat.notFound": "گفتگو نہیں ملی",
  "chat.notFoundText": "یہ گفتگو موجود نہیں، یا حذف ہو چکی ہے۔",
  "chat.startNew": "نئی چیٹ شروع کریں",
  "chat.renameTitle": "گفتگو کا نام بدلیں",
  "chat.titleField": "عنوان",
  "chat.renamed": "گفتگو کا نام بدل دیا گیا۔",
  "chat.deleteTitle": "یہ گفتگو حذف کریں؟",
  "chat.deleteText": "“{title}” اور اس کے پیغامات ہمیشہ کے لیے ختم ہو جائیں گے۔ آپ کے کام جیسے ہیں ویسے رہیں گے۔",
  "chat.deleted": "گفتگو حذف کر دی گئی۔",
  "chat.deletedElsewhere": "یہ گفتگو کسی اور ونڈو میں حذف کر دی گئی۔",
  "chat.youSaid": "آپ نے کہا",
  "chat.assistantSaid": "taskchat نے کہا",
  "chat.activity": "taskchat نے کیا کیا",
  "chat.answerFailed": "جواب دیتے ہوئے کچھ غلط ہو گیا۔",
  "chat.stopped": "روک دیا گیا۔",
  "chat.reload": "گفتگو دوبارہ لوڈ کریں",
  "chat.tryAgain": "دوبارہ کوشش کریں",
  "dialog.cancel": "منسوخ",
  "dialog.ok": "ٹھیک ہے",
  "tasks.title": "آپ کے کام",
  "tasks.undo": "واپس لیں",
  "tasks.undoTitle": "اپنے کاموں کی آخری تبدیلی واپس لیں",
  "tasks.close": "کام بند کریں",
  "tasks.new": "نیا کام",
  "tasks.newPlaceholder": "کام شامل کریں…",
  "tasks.add": "کام شامل کریں",
  "tasks.filter": "کام چھانٹیں",
  "tasks.search": "کام تلاش کریں",
  "tasks.searchPlaceholder": "کام تلاش کریں…",
  "tasks.show": "دکھائیں",
  "view.all": "سب",
  "view.today": "آج",
  "view.upcoming": "آنے والے",
  "view.overdue": "تاخیر شدہ",
  "view.done": "مکمل",
  "tasks.label": "لیبل",
  "tasks.allLabels": "تمام لیبل",
  "tasks.dueOn": "آخری تاریخ",
  "tasks.dueOnTitle": "اس دن کے کام",
  "tasks.sort": "ترتیب",
  "sort.number": "نمبر کے لحاظ سے",
  "sort.due": "آخری تاریخ کے لحاظ سے",
  "sort.priority": "ترجیح کے لحاظ سے",
  "sort.created": "نئے پہلے",
  "sort.updated": "حال ہی میں بدلے گئے",
  "tasks.pending": "باقی",
  "tasks.done": "مکمل",
  "tasks.more": "مزید لوڈ ہو رہے ہیں…",
  "tasks.pendingEmpty": "کچھ باقی نہیں۔ کچھ کہیں، یا اوپر شامل کریں۔",
  "tasks.noMatch": "کوئی باقی کام نہیں ملا۔",
  "tasks.doneEmpty": "مکمل کام یہاں آتے ہیں۔",
  "tasks.undoneOne": "واپس: کام {number}، “{title}”، پہلے جیسا ہے۔",
  "tasks.undoneMany": { one: "واپس: {count} کام پہلے جیسا ہے۔", other: "واپس: {count} کام پہلے جیسے ہیں۔" },
  "tasks.added": "“{title}” شامل کر دیا۔",
  "row.detailsTitle": "آخری تاریخ، ترجیح، لیبل",
  "row.edit": "ترمیم",
  "row.delete": "حذف کریں",
  "row.editTask": "کام {number} میں ترمیم کریں: {title}",
  "row.detailsOf": "کام {number} کی آخری تاریخ، ترجیح اور لیبل: {title}",
  "row.deleteTask": "کام {number} حذف کریں: {title}",
  "row.due": "آخری تاریخ {when}",
  "row.dueSr": "آخری تاریخ:",
  "row.prioritySr": " ترجیح",
  "row.priorityTitle": "{priority} ترجیح",
  "row.details": "کام {number} کی تفصیل",
  "row.dueField": "آخری تاریخ",
  "row.duePlaceholder": "کل شام 5 بجے، 2026-12-24 17:00…",
  "row.dueHint": "Enter محفوظ کرتا ہے؛ خالی خانہ آخری تاریخ ہٹا دیتا ہے۔",
  "row.priority": "ترجیح",
  "row.labels": "لیبل",
  "row.labelPlaceholder": "لیبل شامل کریں…",
  "row.addLabel": "کام {number} میں لیبل شامل کریں",
  "row.removeLabel": "کام {number} سے لیبل {label} ہٹائیں",
  "row.newTitle": "کام {number} کا نیا عنوان",
  "priority.none": "کوئی ترجیح نہیں",
  "priority.low": "کم",
  "priority.medium": "درمیانی",
  "priority.high": "زیادہ",
  "priority.urgent": "فوری",
  "priorityOption.low": "کم",
  "priorityOption.medium": "درمیانی",
  "priorityOption.high": "زیادہ",
  "priorityOption.urgent": "فوری",
  "said.renamed": "کام {number} کا نام بدل دیا۔",
  "said.deleted": "کام {number} حذف کر دیا۔",
  "said.unlabelled": "کام {number} سے لیبل {label} ہٹا دیا۔",
  "said.done": "کام {number} مکمل کر دیا۔",
  "said.reopened": "کام {number} پھر سے باقی ہے۔",
  "said.priority": "کام {number} کی ترجیح اب {priority} ہے۔",
  "said.noPriority": "کام {number} کی اب کوئی ترجیح نہیں۔",
  "said.due": "کام {number} کی آخری تاریخ {due} ہے۔",
  "said.noDue": "کام {number} کی اب کوئی آخری تاریخ نہیں۔",
  "said.labelled": "کام {number} پر لیبل {label} لگا دیا۔",
  "due.today": "آج",
  "due.tomorrow": "کل",
  "due.yesterday": "گزشتہ کل",
  "due.overdue": "تاخیر شدہ",
  "due.overdueBy": { one: "{count} دن کی تاخیر", other: "{count} دن کی تاخیر" },
};

/** The languages on offer: code, own name, direction, and the locale dates and numbers are written in. */
export const LANGUAGES = /** @type {const} */ ([
  { code: "en", name: "English", dir: "ltr", locale: "en-GB", catalog: en },
  { code: "es", name: "Español", dir: "ltr", locale: "es", catalog: es },
  { code: "ur", name: "اردو", dir: "rtl", locale: "ur", catalog: ur },
]);

const STORE = "taskchat:lang";

/** @param {string | null | undefined} tag a BCP 47 tag ("es-MX", "ur-PK") as one of ours, or undefined */
const ours = (tag) => LANGUAGES.find((l) => tag && tag.toLowerCase().split("-")[0] === l.code);

function choose() {
  let saved = null;
  try {
    saved = localStorage.getItem(STORE);
  } catch {
    // Storage disabled: the browser's languages decide.
  }
  return ours(saved) || (navigator.languages || [navigator.language]).map(ours).find(Boolean) || LANGUAGES[0];
}

const current = choose();
/** The chosen language's code: en, es or ur. */
export const lang = current.code;
/** The locale dates and numbers are written in (English dates keep the British day-month order). */
export const locale = current.locale;

const plurals = new Intl.PluralRules(locale);
const numbers = new Intl.NumberFormat(locale, /** @type {Intl.NumberFormatOptions} */ (/** @type {unknown} */ ({ useGrouping: "min2" })));

/** @param {number} n a count, written the language's way */
export const formatNumber = (n) => numbers.format(n);

/**
 * The pieces of a message: literal text and the names of its parameters, in order.
 * @param {string} key
 * @param {Params} params
 */
function pieces(key, params) {
  const entry = current.catalog[key] ?? en[key] ?? key;
  let text = entry;
  if (typeof entry !== "string") {
    const n = Number(params.count);
    const form = /** @type {keyof typeof entry} */ (plurals.select(n));
    text = entry[form] ?? entry.other;
  }
  return /** @type {string} */ (text).split(/\{(\w+)\}/);
}

/**
 * A parameter as shown: a count written the language's way; anything else as it is.
 * @param {string} name
 * @param {string | number | undefined} v
 */
const show = (name, v) =>
  typeof v === "number" && name === "count" ? formatNumber(v) : String(v ?? "");

/**
 * A message of the app in the chosen language. `{name}` takes params.name; a `{count}` is written the language's
 * way and picks the plural form.
 * @param {string} key
 * @param {Params} [params]
 */
export function t(key, params = {}) {
  return pieces(key, params)
    .map((p, i) => (i % 2 ? show(p, params[p]) : p))
    .join("");
}

/**
 * The same message as DOM nodes, each string parameter (someone's title, a label) in a <bdi>: text in another
 * direction stays in one piece and leaves the sentence around it in order.
 * @param {string} key
 * @param {Params} [params]
 * @returns {Node[]}
 */
export function tn(key, params = {}) {
  return pieces(key, params).map((p, i) => {
    if (!(i % 2)) return document.createTextNode(p);
    const v = params[p];
    if (typeof v !== "string") return document.createTextNode(show(p, v));
    const b = document.createElement("bdi");
    b.textContent = v;
    return b;
  });
}

/**
 * Puts the page in the chosen language: <html lang dir>, and every [data-i18n] / [data-i18n-attr] under root.
 * @param {ParentNode} [root]
 */
export function localize(root = document) {
  if (root === document) {
    document.documentElement.lang = current.code;
    document.documentElement.dir = current.dir;
  }
  for (const e of root.querySelectorAll("[data-i18n]")) {
    const key = e.getAttribute("data-i18n");
    if (key) e.textContent = t(key);
  }
  for (const e of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of (e.getAttribute("data-i18n-attr") || "").split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) e.setAttribute(attr, t(key));
    }
  }
}

/**
 * Fills a <select> with the languages and makes a choice stick (localStorage) and show (a reload: every
 * string the scripts made is made again; drafts are kept in storage, so nothing typed is lost).
 * @param {HTMLSelectElement} select
 */
export function languagePicker(select) {
  select.replaceChildren(
    ...LANGUAGES.map((l) => {
      const o = new Option(l.name, l.code, false, l.code === lang);
      o.lang = l.code;
      o.dir = l.dir;
      return o;
    }),
  );
  select.addEventListener("change", () => {
    try {
      localStorage.setItem(STORE, select.value);
    } catch {
      // Storage disabled: there is nowhere to keep the choice; the browser's languages stay in charge.
    }
    location.reload();
  });
}
