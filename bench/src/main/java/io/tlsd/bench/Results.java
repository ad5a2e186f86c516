package io.tlsd.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** The suite's one table: figures, the compared values, their ratio and the goal it is held to. */
final class Results {
    /**
     * One line. {@code ratio} is tlsd/peer, NaN when there is nothing to compare with;
     * {@code lowerIsBetter} for latencies and costs, whose ratio the chart turns round (peer/tlsd).
     * {@code goal} is the ratio (or, for an absolute row, the value) that must be reached; NaN for
     * none.
     */
    record Row(String scenario, String figure, String unit, double ours, String peer, double theirs,
               double ratio, double goal, String goalText, Boolean met, boolean lowerIsBetter) { }

    final List<Row> rows = new ArrayList<>();

    /** A throughput compared with a peer: ratio = ours / theirs, goal a minimum ratio. */
    void higherIsBetter(String scenario, String figure, String unit, double ours, String peer, double theirs,
                        double goal) {
        double ratio = ours / theirs;
        rows.add(new Row(scenario, figure, unit, ours, peer, theirs, ratio, goal,
                Double.isNaN(goal) ? "" : String.format(Locale.ROOT, "≥ %.1f×", goal),
                Double.isNaN(goal) ? null : ratio >= goal, false));
        print(rows.get(rows.size() - 1));
    }

    /** A latency or a cost compared with a peer: shown as ours/theirs, goal a maximum ratio. */
    void lowerIsBetter(String scenario, String figure, String unit, double ours, String peer, double theirs,
                       double maxRatio) {
        double ratio = ours / theirs;
        rows.add(new Row(scenario, figure, unit, ours, peer, theirs, ratio, maxRatio,
                Double.isNaN(maxRatio) ? "" : String.format(Locale.ROOT, "≤ %.1f×", maxRatio),
                Double.isNaN(maxRatio) ? null : ratio <= maxRatio, true));
        print(rows.get(rows.size() - 1));
    }

    /** A value held to an absolute bound (or to none). */
    void absolute(String scenario, String figure, String unit, double ours, double max, String goalText) {
        rows.add(new Row(scenario, figure, unit, ours, "", Double.NaN, Double.NaN, max, goalText,
                Double.isNaN(max) ? null : ours <= max, true));
        print(rows.get(rows.size() - 1));
    }

    private static void print(Row r) {
        System.out.println("  " + line(r));
        System.out.flush();
    }

    private static String num(double v) {
        if (Double.isNaN(v)) {
            return "";
        }
        return Math.abs(v) >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String line(Row r) {
        return String.format(Locale.ROOT, "%-16s %-34s %10s %-8s %10s %-8s %7s %-9s %s", r.scenario, r.figure,
                num(r.ours), r.unit, num(r.theirs), r.peer, Double.isNaN(r.ratio) ? "" : num(r.ratio) + "×",
                r.goalText, r.met == null ? "" : r.met ? "met" : "NOT MET");
    }

    String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append("| scenario | figure | tlsd | peer | peer value | ratio | goal | |\n");
        sb.append("| --- | --- | ---: | --- | ---: | ---: | --- | --- |\n");
        for (Row r : rows) {
            sb.append("| ").append(r.scenario).append(" | ").append(r.figure).append(" | ").append(num(r.ours))
                    .append(' ').append(r.unit).append(" | ").append(r.peer).append(" | ")
                    .append(Double.isNaN(r.theirs) ? "" : num(r.theirs) + " " + r.unit).append(" | ")
                    .append(Double.isNaN(r.ratio) ? "" : num(r.ratio) + "×").append(" | ").append(r.goalText)
                    .append(" | ").append(r.met == null ? "" : r.met ? "met" : "**not met**").append(" |\n");
        }
        return sb.toString();
    }

    String text() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-16s %-34s %10s %-8s %10s %-8s %7s %-9s%n",
                "scenario", "figure", "tlsd", "", "peer", "", "ratio", "goal"));
        for (Row r : rows) {
            sb.append(line(r)).append('\n');
        }
        return sb.toString();
    }

    /**
     * A bar chart of the ratios, oriented so that right of the 1.0 line is better for tlsd
     * (the ratios of latencies and costs are turned round: peer/tlsd), with each goal as a tick.
     */
    void chart(Path png, String title) throws IOException {
        List<Row> bars = rows.stream().filter(r -> !Double.isNaN(r.ratio)).toList();
        int rowHeight = 26;
        int left = 420;
        int width = 1000;
        int height = 60 + rowHeight * bars.size() + 40;
        double max = 2.5;
        for (Row r : bars) {
            max = Math.max(max, better(r));
        }
        max = Math.min(max, 6);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, 10, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString("ratio, higher = better for tlsd (latency, cost: peer / tlsd); black tick = goal", 10, 42);
        int plot = width - left - 60;
        int top = 55;
        for (int i = 0; i < bars.size(); i++) {
            Row r = bars.get(i);
            int y = top + i * rowHeight;
            double v = better(r);
            g.setColor(Color.DARK_GRAY);
            g.drawString(r.scenario + ": " + r.figure + " vs " + r.peer, 10, y + 16);
            int w = (int) (plot * Math.min(v, max) / max);
            g.setColor(r.met == null ? new Color(0x6a8caf) : r.met ? new Color(0x4caf50) : new Color(0xe57373));
            g.fillRect(left, y + 4, Math.max(w, 1), rowHeight - 8);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.2f×", v), left + w + 4, y + 16);
            if (!Double.isNaN(r.goal)) {
                double goal = r.lowerIsBetter ? 1 / r.goal : r.goal;
                int gx = left + (int) (plot * goal / max);
                g.setStroke(new BasicStroke(2));
                g.drawLine(gx, y + 1, gx, y + rowHeight - 1);
            }
        }
        int one = left + (int) (plot / max);
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {4, 4}, 0));
        g.drawLine(one, top - 4, one, top + bars.size() * rowHeight);
        g.drawString("1.0×", one - 10, top + bars.size() * rowHeight + 16);
        g.dispose();
        Files.createDirectories(png.toAbsolutePath().getParent());
        ImageIO.write(img, "png", png.toFile());
    }

    private static double better(Row r) {
        return r.lowerIsBetter ? 1 / r.ratio : r.ratio;
    }
}
