"""The texts of the mails an incident sends: to a client in Brazilian Portuguese, to operations.

A client's mail says what was detected, what it means and what happens next in words a credit
manager reads; it names only that client and its product, never figures of the detection (PSI,
windows, other clients): those stay in the incident, for CredGuard's staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from credguard.accounts.tables import Client
from credguard.config import Settings
from credguard.incidents.tables import Incident

#: How clients know the configured product codes.
PRODUCT_NAMES = {"CARTAO": "Cartão", "EMPRESTIMO": "Empréstimo", "CREDIARIO": "Crediário"}


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


def product_name(code: str) -> str:
    return PRODUCT_NAMES.get(code, code)


_MEANING = """\
O que isso significa
O modelo de score de crédito foi treinado com o histórico de clientes de uma época. Quando o
perfil dos clientes enviados para avaliação muda de forma significativa em relação a esse
histórico (por exemplo, mais pagamentos em atraso ou relacionamentos mais curtos), os scores
podem perder precisão. Eles continuam sendo calculados normalmente, mas podem ficar menos
precisos até que o modelo seja atualizado com dados recentes. Nenhum dado foi perdido e nenhuma
ação imediata é necessária da sua parte."""


def client_drift(client: Client, product: str, detected_on: date, settings: Settings) -> Notice:
    """The mail to a client whose model drifted: what we do (support plan) or what we offer."""
    name = product_name(product)
    detected = detected_on.strftime("%d/%m/%Y")
    days = settings.support_retraining_days
    opening = (
        f"Olá, equipe {client.name},\n\n"
        f"Em {detected}, o monitoramento do CredGuard detectou uma mudança relevante (drift) no\n"
        f"perfil dos clientes avaliados pelo modelo de crédito do produto {name} da {client.name}.\n"
    )
    if client.support_plan:
        subject = f"CredGuard: mudança detectada no modelo de {name}; nossa equipe já está atuando"
        next_steps = (
            "O que acontece agora\n"
            f"Como a {client.name} tem o plano de sustentação do CredGuard, nossa equipe vai:\n"
            "  1. analisar a mudança detectada;\n"
            "  2. retreinar o modelo com dados recentes e validar a nova versão (desempenho e\n"
            "     calibração dos scores);\n"
            "  3. colocar a nova versão em produção e avisar você quando isso acontecer.\n"
            f"Prazo previsto: até {days} dias úteis. Se precisarmos de alguma informação da sua\n"
            "parte, como os resultados de pagamento observados dos seus clientes, entraremos em\n"
            "contato.\n\n"
            "Dúvidas? Basta responder a este e-mail.\n"
        )
        signature = "Equipe de Operações CredGuard"
    else:
        subject = (
            f"CredGuard: mudança detectada no modelo de {name}; conheça o plano de sustentação"
        )
        next_steps = (
            "O que recomendamos\n"
            "Para voltar a refletir o perfil atual dos seus clientes, o modelo precisa ser\n"
            "retreinado com dados recentes e validado antes de entrar em produção.\n\n"
            f"A {client.name} ainda não tem o plano de sustentação do CredGuard. Com ele, nossa\n"
            "equipe acompanha o desempenho dos seus modelos todos os dias e, quando uma mudança\n"
            "como esta é detectada, retreina, valida e coloca em produção uma nova versão, em\n"
            f"até {days} dias úteis, avisando você a cada etapa.\n\n"
            "Para contratar o plano de sustentação, ou para saber mais, basta responder a este\n"
            "e-mail.\n"
        )
        signature = "Equipe CredGuard"
    body = f"{opening}\n{_MEANING}\n\n{next_steps}\nAtenciosamente,\n{signature}\n"
    return Notice(subject, body)


def operations_drift(incident: Incident, detected_on: date) -> Notice:
    """The mail to operations for a drift across all clients of a product."""
    subject = (
        f"[CredGuard {incident.severity}] drift at action: {incident.produto}, all clients "
        f"(incident #{incident.id})"
    )
    body = (
        f"Incident #{incident.id} opened: {incident.title}\n\n"
        f"Product: {incident.produto} (all clients together)\n"
        f"Detected on: {detected_on.isoformat()}\n"
        f"Severity: {incident.severity}; respond by {incident.response_due_at:%Y-%m-%d %H:%M} "
        f"UTC; escalation: {incident.escalation}\n\n"
        f"{incident.details or ''}\n\n"
        "Next (runbook 2.3 and section 5): look at /dashboard/drift-monitoring, then\n"
        f"  credguard incidents ack {incident.id}\n"
        "retrain and promote the product's model, and\n"
        f'  credguard incidents resolve {incident.id} --resolution "…"\n'
        "Every client scored by this model in the window is mailed too (see the incident's\n"
        "notification); a client with a drift of its own gets its own incident and mail.\n"
    )
    return Notice(subject, body)
