#!/usr/bin/env python3
"""Deterministic generator of an `orders` CSV for benchmarks and examples.

Usage: gen_orders.py ROWS OUT.csv

12 mixed-type columns: integers (incl. 64-bit ids), decimals, a boolean, dates, timestamps with
microseconds, and text with commas, quotes, newlines-free UTF-8. The same ROWS always give the
same bytes (a fixed-seed LCG, no wall clock).
"""
import sys

CITIES = ["Praha", "Brno", "München", "Zürich", "São Paulo", "Kraków", "東京", "New York, NY", "Reykjavík", "Łódź"]
PRODUCTS = ['Widget "Pro"', "Gadget, large", "Doohickey", "Thingamajig 🚀", "Sprocket", "Gizmo (v2)", "Whatsit", "Ünïcode Ítem"]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]


def main() -> None:
    rows = int(sys.argv[1])
    out = sys.argv[2]
    state = 42

    def rnd(n: int) -> int:
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (state >> 33) % n

    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("order_id,customer_id,product,quantity,unit_price,discount,status,is_gift,city,order_date,created_at,note\n")
        buf = []
        for i in range(1, rows + 1):
            cust = 1_000_000_000_000 + rnd(50_000)
            product = PRODUCTS[rnd(len(PRODUCTS))]
            qty = 1 + rnd(20)
            price = f"{rnd(100_000) / 100:.2f}"
            discount = f"{rnd(30) / 100:.2f}"
            status = STATUSES[rnd(len(STATUSES))]
            gift = "true" if rnd(10) == 0 else "false"
            city = CITIES[rnd(len(CITIES))]
            day = 1 + rnd(28)
            month = 1 + rnd(12)
            date = f"2024-{month:02d}-{day:02d}"
            ts = f"{date} {rnd(24):02d}:{rnd(60):02d}:{rnd(60):02d}.{rnd(1_000_000):06d}"
            note = "" if rnd(4) == 0 else f"call before delivery, ask for \"{city}\" desk #{rnd(100)}"
            product_field = '"' + product.replace('"', '""') + '"' if ("," in product or '"' in product) else product
            city_field = f'"{city}"' if "," in city else city
            note_field = '"' + note.replace('"', '""') + '"' if note else ""
            buf.append(f"{i},{cust},{product_field},{qty},{price},{discount},{status},{gift},{city_field},{date},{ts},{note_field}\n")
            if len(buf) >= 10_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


if __name__ == "__main__":
    main()
