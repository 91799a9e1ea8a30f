"""Reason codes: why a customer's risk is higher than the average customer's (LGPD art. 20)."""

from __future__ import annotations

#: Reason code of each feature (the feature raised this customer's risk above the average).
FEATURE_REASONS: dict[str, str] = {
    "relationship_days": "RELACIONAMENTO_RECENTE",
    "days_since_last_purchase": "INATIVIDADE_RECENTE",
    "total_compras": "QUANTIDADE_DE_COMPRAS",
    "valor_total_compras": "VALOR_DE_COMPRAS",
    "ticket_medio": "TICKET_MEDIO",
    "total_pagamentos_em_dia": "POUCOS_PAGAMENTOS_EM_DIA",
    "total_atrasos": "MUITAS_PARCELAS_EM_ATRASO",
    "late_share": "ATRASOS_FREQUENTES",
    "maior_atraso": "ATRASO_LONGO",
}

#: Reason code → text a customer can read (pt-BR).
REASONS: dict[str, str] = {
    "RELACIONAMENTO_RECENTE": "Pouco tempo de relacionamento com a empresa",
    "INATIVIDADE_RECENTE": "Tempo desde a última compra associado a maior risco",
    "QUANTIDADE_DE_COMPRAS": "Quantidade de compras associada a maior risco",
    "VALOR_DE_COMPRAS": "Valor total de compras associado a maior risco",
    "TICKET_MEDIO": "Valor médio por compra associado a maior risco",
    "POUCOS_PAGAMENTOS_EM_DIA": "Poucas parcelas pagas em dia",
    "MUITAS_PARCELAS_EM_ATRASO": "Número elevado de parcelas pagas com atraso",
    "ATRASOS_FREQUENTES": "Proporção elevada de parcelas pagas com atraso",
    "ATRASO_LONGO": "Atraso máximo elevado no pagamento de parcelas",
}


def describe(code: str) -> str:
    """Readable pt-BR text of a reason code."""
    try:
        return REASONS[code]
    except KeyError:
        raise ValueError(f"unknown reason code {code!r}") from None
