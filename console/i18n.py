"""English and French, chosen by the browser's Accept-Language. Pure.

Every string a page shows goes through :func:`translator`; a key missing in French falls back
to English, and a key missing in English is a bug the unit tests catch (they render every page
in both languages)."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "fr")
DEFAULT = "en"

EN: dict[str, str] = {
    "app": "helpline console", "skip": "Skip to content", "sign_in": "Sign in",
    "sign_out": "Sign out", "agent_id": "Agent id", "password": "Password",
    "bad_login": "Unknown agent or wrong password.",
    "throttled": "Too many failed attempts: wait a few minutes and try again.",
    "queue": "Queue", "reports": "Reports",
    "mine": "My queue", "all_tickets": "All tickets", "ticket": "Ticket", "subject": "Subject",
    "status": "Status", "priority": "Priority", "category": "Category", "channel": "Channel",
    "tier": "Tier", "team": "Team", "assignee": "Assignee", "requester": "Requester",
    "due": "SLA due", "any": "any", "active": "active (not solved)", "filter": "Filter",
    "unassigned": "unassigned", "no_tickets": "No tickets here.", "breached": "breached",
    "warning": "due soon", "ok": "on time", "none": "no SLA", "overdue": "overdue",
    "conversation": "Conversation", "quoted": "Quoted history", "signature": "Signature",
    "customer": "Customer", "other_tickets": "Other tickets", "classification": "Classification",
    "rules_matched": "Rules matched", "model": "Model", "confidence": "confidence",
    "abstained": "abstained", "sla_clocks": "SLA clocks", "history": "History (audit trail)",
    "reply": "Reply", "reply_send": "Send reply", "note": "Internal note", "note_add": "Add note",
    "then_status": "then set status", "unchanged": "unchanged", "assign": "Assign",
    "take": "Take it", "set": "Set", "queued": "Done: your action is queued.",
    "first-response": "first response", "next-response": "next response",
    "resolution": "resolution", "met": "met", "forbidden": "You may not see this page.",
    "not_found": "No such ticket.", "inbound": "customer", "outbound": "agent",
    "note_dir": "note", "live": "live", "reconnecting": "reconnecting…", "presence": "Presence",
    "online": "online", "away": "away", "offline": "offline", "role": "role",
    "attachments": "Attachments", "no_events": "No events yet.", "download_csv": "CSV",
    "volume": "Volume", "by_channel": "by channel", "by_category": "by category",
    "by_team": "by team", "first_response_time": "First response time",
    "resolution_time": "Resolution time", "sla_compliance": "SLA compliance",
    "escalations": "Escalations", "backlog": "Backlog", "reopen_rate": "Reopen rate",
    "busiest_hours": "Busiest hours", "agent_load": "Per-agent load", "since": "since",
    "tickets": "tickets", "hours": "hours", "per_day": "Tickets per day", "error": "Error",
    "bad_request": "That did not work:", "escalate": "Escalate", "reason": "reason",
    "hidden_chars": "not shown", "merge_into": "Merge into ticket",
    "link_master": "Child of master ticket", "agents": "Agents", "name": "Name",
    "agents_hint": "The agent directory (helpline agents push); passwords are set with "
                   "helpline console passwd.",
    "set_yes": "set", "set_no": "not set", "open_ticket": "open", "countdown_in": "in",
    "keyboard": "Keys: j/k move in the queue, Enter opens, / filters, r replies, "
                "Ctrl+Enter sends.",
}

FR: dict[str, str] = {
    "app": "console helpline", "skip": "Aller au contenu", "sign_in": "Se connecter",
    "sign_out": "Se déconnecter", "agent_id": "Identifiant agent", "password": "Mot de passe",
    "bad_login": "Agent inconnu ou mot de passe erroné.",
    "throttled": "Trop d'échecs : attendez quelques minutes avant de réessayer.",
    "queue": "File", "reports": "Rapports",
    "mine": "Ma file", "all_tickets": "Tous les tickets", "ticket": "Ticket", "subject": "Objet",
    "status": "Statut", "priority": "Priorité", "category": "Catégorie", "channel": "Canal",
    "tier": "Niveau", "team": "Équipe", "assignee": "Assigné à", "requester": "Demandeur",
    "due": "Échéance SLA", "any": "tous", "active": "actifs (non résolus)", "filter": "Filtrer",
    "unassigned": "non assigné", "no_tickets": "Aucun ticket ici.", "breached": "dépassé",
    "warning": "bientôt dû", "ok": "dans les temps", "none": "sans SLA", "overdue": "en retard",
    "conversation": "Conversation", "quoted": "Historique cité", "signature": "Signature",
    "customer": "Client", "other_tickets": "Autres tickets", "classification": "Classification",
    "rules_matched": "Règles appliquées", "model": "Modèle", "confidence": "confiance",
    "abstained": "abstention", "sla_clocks": "Délais SLA", "history": "Historique (audit)",
    "reply": "Répondre", "reply_send": "Envoyer la réponse", "note": "Note interne",
    "note_add": "Ajouter la note", "then_status": "puis passer au statut",
    "unchanged": "inchangé", "assign": "Assigner", "take": "Le prendre", "set": "Appliquer",
    "queued": "C'est fait : votre action est en file.", "first-response": "première réponse",
    "next-response": "réponse suivante", "resolution": "résolution", "met": "tenu",
    "forbidden": "Vous ne pouvez pas voir cette page.", "not_found": "Ticket introuvable.",
    "inbound": "client", "outbound": "agent", "note_dir": "note", "live": "en direct",
    "reconnecting": "reconnexion…", "presence": "Présence", "online": "en ligne",
    "away": "absent", "offline": "hors ligne", "role": "rôle", "attachments": "Pièces jointes",
    "no_events": "Aucun événement.", "download_csv": "CSV", "volume": "Volume",
    "by_channel": "par canal", "by_category": "par catégorie", "by_team": "par équipe",
    "first_response_time": "Délai de première réponse", "resolution_time": "Délai de résolution",
    "sla_compliance": "Respect des SLA", "escalations": "Escalades", "backlog": "En attente",
    "reopen_rate": "Taux de réouverture", "busiest_hours": "Heures chargées",
    "agent_load": "Charge par agent", "since": "depuis", "tickets": "tickets",
    "hours": "heures", "per_day": "Tickets par jour", "error": "Erreur",
    "bad_request": "Cela n'a pas fonctionné :", "escalate": "Escalader", "reason": "motif",
    "hidden_chars": "masqué", "merge_into": "Fusionner dans le ticket",
    "link_master": "Enfant du ticket maître", "agents": "Agents", "name": "Nom",
    "agents_hint": "L'annuaire des agents (helpline agents push) ; les mots de passe se "
                   "définissent avec helpline console passwd.",
    "set_yes": "défini", "set_no": "non défini", "open_ticket": "ouvrir", "countdown_in": "dans",
    "keyboard": "Touches : j/k pour se déplacer dans la file, Entrée ouvre, / filtre, "
                "r répond, Ctrl+Entrée envoie.",
}

CATALOGUES = {"en": EN, "fr": FR}


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an ``Accept-Language`` header (q-values honoured)."""
    best, best_q = DEFAULT, -1.0
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-")[0]
        # earlier entries win ties, as browsers list them in preference order
        if lang in CATALOGUES and q > 0 and q - i * 1e-6 > best_q:
            best, best_q = lang, q - i * 1e-6
    return best


def translator(lang: str) -> Callable[[str], str]:
    catalogue = CATALOGUES.get(lang, EN)

    def t(key: str) -> str:
        return catalogue.get(key) or EN[key]

    return t


def duration(seconds: float, lang: str) -> str:
    """``2h 05m`` / ``3d 4h`` / ``45s``, the same in both languages (j for days in French)."""
    s = int(abs(seconds))
    day = "j" if lang == "fr" else "d"
    if s >= 86400:
        return f"{s // 86400}{day} {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"
